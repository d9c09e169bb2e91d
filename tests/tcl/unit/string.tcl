# string.tcl -- the string commands: GET, SET and its options, SETNX, SETEX, PSETEX,
# GETSET, GETDEL, GETEX, MGET, MSET, MSETNX, APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE,
# LCS. Counters are in incr.tcl, TTL behaviour in expire.tcl, 100 MB values in bigvalue.tcl.

start_server {tags {"string"}} {
    test {SET and GET of a simple value} {
        r set foo bar
        r get foo
    } bar

    test {SET overwrites} {
        r set foo one
        r set foo two
        r get foo
    } two

    test {SET and GET of an empty value and an empty key} {
        r set empty ""
        r set "" "empty key"
        list [r get empty] [r strlen empty] [r exists empty] [r get ""]
    } {{} 0 1 {empty key}}

    test {SET/GET of binary keys and values with NUL, CR and LF} {
        r set "k\x00\r\nk" "v\x00\r\n\$3\r\nv\xff"
        r get "k\x00\r\nk"
    } "v\x00\r\n\$3\r\nv\xff"

    test {keys differing only after a NUL byte are distinct} {
        r set "a\x00b" 1
        r set "a\x00c" 2
        r set "a" 3
        list [r get "a\x00b"] [r get "a\x00c"] [r get a]
    } {1 2 3}

    test {GET of a missing key is a null bulk} {
        r del nokey
        assert_equal [r get nokey] ""
        list [r last_type] [r last_prefix]
    } [list null \$]

    test {SET replies OK as a simple string} {
        r set foo bar
        r last_type
    } simple

    test {SET NX sets only a missing key} {
        r del nx
        assert_equal [r set nx 1 NX] OK
        assert_equal [r set nx 2 nx] ""
        assert_equal [r last_type] null
        r get nx
    } 1

    test {SET XX sets only an existing key} {
        r del xx
        assert_equal [r set xx 1 XX] ""
        assert_equal [r exists xx] 0
        r set xx 1
        assert_equal [r set xx 2 xx] OK
        r get xx
    } 2

    test {SET GET returns the old value} {
        r set sg old
        assert_equal [r set sg new GET] old
        r get sg
    } new

    test {SET GET of a missing key returns null and sets} {
        r del sg
        assert_equal [r set sg new get] ""
        assert_equal [r last_type] null
        r get sg
    } new

    test {SET NX GET on an existing key returns the old value and does not set} {
        r set sg old
        assert_equal [r set sg new NX GET] old
        r get sg
    } old

    test {SET XX GET on a missing key returns null and does not set} {
        r del sg
        assert_equal [r set sg new XX GET] ""
        r exists sg
    } 0

    test {SET GET given twice is accepted} {
        r set sg a
        r set sg b get get
    } a

    test {SET EX, PX, EXAT and PXAT set a TTL} {
        r set ex v EX 100
        assert_range [r ttl ex] 98 100
        r set px v PX 100000
        assert_range [r pttl px] 98000 100000
        r set exat v EXAT [expr {[clock seconds] + 100}]
        assert_range [r ttl exat] 98 100
        r set pxat v PXAT [expr {[clock milliseconds] + 100000}]
        assert_range [r pttl pxat] 98000 100000
    }

    test {SET options are case-insensitive} {
        r del ci
        r set ci v nX eX 100
        assert_range [r ttl ci] 98 100
        r set ci w Xx Px 100000 gEt
    } v

    test {SET EX given twice: the last one wins} {
        r set ex v EX 10 EX 1000
        assert_range [r ttl ex] 998 1000
    }

    test {SET without KEEPTTL clears the TTL} {
        r set k v EX 100
        r set k v2
        r ttl k
    } -1

    test {SET KEEPTTL keeps the TTL} {
        r set k v EX 100
        r set k v2 KEEPTTL
        assert_equal [r get k] v2
        assert_range [r ttl k] 98 100
    }

    test {SET KEEPTTL on a key without TTL} {
        r set k v
        r set k v2 keepttl
        list [r get k] [r ttl k]
    } {v2 -1}

    test {SET with PXAT or EXAT in the past replies OK and the key is gone} {
        r set past v
        assert_equal [r set past v2 PXAT 1] OK
        assert_equal [r exists past] 0
        assert_equal [r set past v3 EXAT 1] OK
        r get past
    } {}

    test {SET GET with PXAT in the past returns the old value and deletes} {
        r set past old
        assert_equal [r set past new GET PXAT 1] old
        r exists past
    } 0

    test {SET with an invalid expire time} {
        foreach args {{EX 0} {EX -1} {PX 0} {PX -100} {EXAT 0} {PXAT -1}
                      {EX 9223372036854775807} {PX 9223372036854775807}
                      {EXAT 9223372036854775807} {EX 9223372036854776}} {
            assert_error {ERR invalid expire time in 'set' command} {r set k v {*}$args}
        }
    }

    test {SET with a non-integer expire time} {
        foreach t {abc 1.5 " 1" "+1" "" 9223372036854775808} {
            assert_error {ERR value is not an integer or out of range} {r set k v EX $t}
        }
    }

    test {SET with conflicting or unknown options is a syntax error} {
        foreach args {{NX XX} {XX NX} {EX 10 PX 100} {PX 100 EX 10} {EX 10 EXAT 10}
                      {PXAT 10 PX 10} {KEEPTTL EX 10} {EX 10 KEEPTTL} {PX 10 KEEPTTL}
                      {EX} {PX} {EXAT} {PXAT} {foo} {NX foo} {PERSIST} {EX 10 foo}} {
            assert_error {ERR syntax error} {r set k v {*}$args}
        }
    }

    test {SET with a bad option leaves the key alone} {
        r set k keep
        catch {r set k changed NX XX}
        catch {r set k changed EX 0}
        r get k
    } keep

    test {SETNX} {
        r del snx
        assert_equal [r setnx snx a] 1
        assert_equal [r setnx snx b] 0
        r get snx
    } a

    test {SETNX against a key with a TTL keeps it} {
        r set snx a EX 100
        assert_equal [r setnx snx b] 0
        assert_range [r ttl snx] 98 100
    }

    test {SETEX sets value and TTL} {
        assert_equal [r setex se 100 val] OK
        assert_equal [r get se] val
        assert_range [r ttl se] 98 100
    }

    test {PSETEX sets value and TTL in milliseconds} {
        assert_equal [r psetex pse 100000 val] OK
        assert_equal [r get pse] val
        assert_range [r pttl pse] 98000 100000
    }

    test {SETEX and PSETEX with an invalid expire time} {
        assert_error {ERR invalid expire time in 'setex' command} {r setex se 0 v}
        assert_error {ERR invalid expire time in 'setex' command} {r setex se -10 v}
        assert_error {ERR invalid expire time in 'setex' command} {r setex se 9223372036854775807 v}
        assert_error {ERR invalid expire time in 'psetex' command} {r psetex se 0 v}
        assert_error {ERR invalid expire time in 'psetex' command} {r psetex se 9223372036854775807 v}
        assert_error {ERR value is not an integer or out of range} {r setex se abc v}
        assert_error {ERR value is not an integer or out of range} {r psetex se 1.5 v}
    }

    test {GETSET returns the old value and sets the new one} {
        r set gs old
        assert_equal [r getset gs new] old
        r get gs
    } new

    test {GETSET of a missing key returns null} {
        r del gs
        assert_equal [r getset gs new] ""
        assert_equal [r last_type] null
        r get gs
    } new

    test {GETSET clears the TTL} {
        r set gs v EX 100
        r getset gs w
        r ttl gs
    } -1

    test {GETDEL returns the value and deletes the key} {
        r set gd val
        assert_equal [r getdel gd] val
        list [r exists gd] [r getdel gd] [r last_type]
    } {0 {} null}

    test {GETEX without options is GET and keeps the TTL} {
        r set ge val EX 100
        assert_equal [r getex ge] val
        assert_range [r ttl ge] 98 100
    }

    test {GETEX of a missing key is null} {
        r del ge
        list [r getex ge] [r last_type] [r getex ge EX 100] [r exists ge]
    } {{} null {} 0}

    test {GETEX EX, PX, EXAT, PXAT set the TTL} {
        r set ge val
        assert_equal [r getex ge EX 100] val
        assert_range [r ttl ge] 98 100
        assert_equal [r getex ge PX 200000] val
        assert_range [r pttl ge] 198000 200000
        assert_equal [r getex ge EXAT [expr {[clock seconds] + 300}]] val
        assert_range [r ttl ge] 298 300
        assert_equal [r getex ge PXAT [expr {[clock milliseconds] + 400000}]] val
        assert_range [r ttl ge] 398 400
    }

    test {GETEX PERSIST removes the TTL} {
        r set ge val EX 100
        assert_equal [r getex ge PERSIST] val
        r ttl ge
    } -1

    test {GETEX PXAT in the past returns the value and deletes the key} {
        r set ge val
        assert_equal [r getex ge PXAT 1] val
        r exists ge
    } 0

    test {GETEX with an invalid expire time on an existing key} {
        r set ge val
        assert_error {ERR invalid expire time in 'getex' command} {r getex ge EX 0}
        assert_error {ERR invalid expire time in 'getex' command} {r getex ge PX -1}
        assert_error {ERR invalid expire time in 'getex' command} {r getex ge EX 9223372036854775807}
        assert_error {ERR value is not an integer or out of range} {r getex ge EX abc}
        list [r get ge] [r ttl ge]
    } {val -1}

    test {GETEX with an invalid expire time on a missing key is null, as in Redis} {
        r del ge
        list [r getex ge EX 0] [r getex ge EX abc]
    } {{} {}}

    test {GETEX syntax errors} {
        r set ge val
        foreach args {{PERSIST EX 10} {EX 10 PERSIST} {EX 10 PX 10} {NX} {XX} {GET}
                      {KEEPTTL} {EX} {foo}} {
            assert_error {ERR syntax error} {r getex ge {*}$args}
        }
    }

    test {GETEX syntax errors are checked before the key} {
        r del ge
        assert_error {ERR syntax error} {r getex ge PERSIST EX 10}
        assert_error {ERR syntax error} {r getex ge foo}
    }

    test {MGET} {
        r del m1 m2 m3
        r set m1 a
        r set m3 c
        r mget m1 m2 m3 m1
    } {a {} c a}

    test {MGET of binary keys} {
        r set "m\x00" "x\r\n"
        r mget "m\x00" m "m\x00"
    } [list "x\r\n" "" "x\r\n"]

    test {MGET nulls are typed nulls (RESP3 "_")} {
        set c [new_client]
        $c hello 3
        $c del m2
        set reply [$c mget m2]
        $c close
        set reply
    } {{}}

    test {MSET sets every pair} {
        assert_equal [r mset ma 1 mb 2 "mc\x00" 3] OK
        r mget ma mb "mc\x00"
    } {1 2 3}

    test {MSET with a key given twice keeps the last value} {
        r mset dup 1 other x dup 2
        list [r get dup] [r get other]
    } {2 x}

    test {MSET clears TTLs} {
        r set ma 1 EX 100
        r mset ma 2
        r ttl ma
    } -1

    test {MSET and MSETNX with an odd number of arguments} {
        assert_error {ERR wrong number of arguments for 'mset' command} {r mset a 1 b}
        assert_error {ERR wrong number of arguments for 'msetnx' command} {r msetnx a 1 b}
        assert_error {ERR wrong number of arguments for 'mset' command} {r mset a}
    }

    test {MSETNX sets all keys when none exists} {
        r del nx1 nx2
        assert_equal [r msetnx nx1 a nx2 b] 1
        r mget nx1 nx2
    } {a b}

    test {MSETNX sets nothing when one key exists} {
        r del nx1 nx3
        r set nx2 old
        assert_equal [r msetnx nx1 a nx2 b nx3 c] 0
        r mget nx1 nx2 nx3
    } {{} old {}}

    test {MSETNX with a key given twice} {
        r del nx4
        assert_equal [r msetnx nx4 a nx4 b] 1
        r get nx4
    } b

    test {APPEND to a missing key creates it} {
        r del ap
        assert_equal [r append ap hello] 5
        r get ap
    } hello

    test {APPEND to an existing key} {
        r set ap hello
        assert_equal [r append ap " world"] 11
        r get ap
    } {hello world}

    test {APPEND binary bytes and keep the TTL} {
        r set ap "a\x00" EX 100
        assert_equal [r append ap "\r\n\xff"] 5
        assert_equal [r get ap] "a\x00\r\n\xff"
        assert_range [r ttl ap] 98 100
    }

    test {APPEND of an empty string} {
        r del ap
        assert_equal [r append ap ""] 0
        r exists ap
    } 1

    test {STRLEN} {
        r del sl
        assert_equal [r strlen sl] 0
        r set sl "a\x00b\xffc"
        r strlen sl
    } 5

    test {STRLEN of a number} {
        r set sl 12345
        r strlen sl
    } 5

    test {GETRANGE against a missing key} {
        r del gr
        list [r getrange gr 0 -1] [r last_type]
    } {{} bulk}

    test {GETRANGE index rules} {
        r set gr hello
        set out {}
        foreach {s e} {0 -1  0 0  0 4  1 -2  -5 -1  -1 -5  0 -100  -100 -100  -10 -20
                       10 20  3 2  -1 0  4 100  -3 -1  2 2  0 9223372036854775807
                       -9223372036854775808 9223372036854775807} {
            lappend out [r getrange gr $s $e]
        }
        set out
    } {hello h hello ell hello {} h h {} {} {} {} o llo l hello hello}

    test {GETRANGE of an empty string} {
        r set gr ""
        list [r getrange gr 0 -1] [r getrange gr -1 0] [r getrange gr 0 0]
    } {{} {} {}}

    test {GETRANGE of a binary value} {
        r set gr "a\x00\r\nb"
        r getrange gr 1 3
    } "\x00\r\n"

    test {GETRANGE with non-integer indexes} {
        r set gr hello
        assert_error {ERR value is not an integer or out of range} {r getrange gr a 1}
        assert_error {ERR value is not an integer or out of range} {r getrange gr 0 1.5}
        assert_error {ERR value is not an integer or out of range} {r getrange nokey 0 x}
        assert_error {ERR value is not an integer or out of range} {r getrange gr 0 9223372036854775808}
    }

    test {SUBSTR is GETRANGE} {
        r set gr hello
        list [r substr gr 1 3] [r substr gr -3 -1] [r substr nokey 0 -1]
    } {ell llo {}}

    test {SETRANGE against a missing key pads with zero bytes} {
        r del sr
        assert_equal [r setrange sr 5 abc] 8
        r get sr
    } "\x00\x00\x00\x00\x00abc"

    test {SETRANGE inside and past the end of a value} {
        r set sr hello
        assert_equal [r setrange sr 1 EA] 5
        assert_equal [r get sr] hEAlo
        assert_equal [r setrange sr 4 "O world"] 11
        r get sr
    } {hEAlO world}

    test {SETRANGE with an empty value} {
        r del sr
        assert_equal [r setrange sr 0 ""] 0
        assert_equal [r exists sr] 0
        assert_equal [r setrange sr 100 ""] 0
        assert_equal [r exists sr] 0
        r set sr hello
        r setrange sr 100 ""
    } 5

    test {SETRANGE keeps the TTL} {
        r set sr hello EX 100
        r setrange sr 0 J
        assert_equal [r get sr] Jello
        assert_range [r ttl sr] 98 100
    }

    test {SETRANGE errors} {
        r set sr hello
        assert_error {ERR offset is out of range} {r setrange sr -1 x}
        assert_error {ERR value is not an integer or out of range} {r setrange sr abc x}
        assert_error {ERR value is not an integer or out of range} {r setrange sr 1.0 x}
        assert_error {ERR string exceeds maximum allowed size (proto-max-bulk-len)} {
            r setrange sr 536870912 x
        }
        assert_error {ERR string exceeds maximum allowed size (proto-max-bulk-len)} {
            r setrange nokey 536870911 xy
        }
        assert_error {ERR offset is out of range} {r setrange sr -9223372036854775808 x}
        r get sr
    } hello

    test {LCS} {
        r mset virus1 ohmytext virus2 mynewtext
        r lcs virus1 virus2
    } mytext

    test {LCS LEN} {
        r lcs virus1 virus2 LEN
    } 6

    test {LCS IDX} {
        r lcs virus1 virus2 IDX
    } {matches {{{4 7} {5 8}} {{2 3} {0 1}}} len 6}

    test {LCS IDX WITHMATCHLEN} {
        r lcs virus1 virus2 IDX WITHMATCHLEN
    } {matches {{{4 7} {5 8} 4} {{2 3} {0 1} 2}} len 6}

    test {LCS IDX MINMATCHLEN} {
        list [r lcs virus1 virus2 IDX MINMATCHLEN 4] [r lcs virus1 virus2 idx minmatchlen -5]
    } {{matches {{{4 7} {5 8}}} len 6} {matches {{{4 7} {5 8}} {{2 3} {0 1}}} len 6}}

    test {LCS of missing keys is over empty strings} {
        r del nokey1 nokey2
        list [r lcs virus1 nokey1] [r lcs nokey1 nokey2 LEN] [r lcs virus1 nokey1 IDX]
    } {{} 0 {matches {} len 0}}

    test {LCS of a key with itself and of binary values} {
        r set bin1 "a\x00b\r\nc"
        r set bin2 "x\x00\r\ny"
        list [r lcs virus1 virus1] [r lcs bin1 bin2]
    } [list ohmytext "\x00\r\n"]

    test {LCS option errors} {
        assert_error {ERR If you want both the length and indexes, please just use IDX.} {
            r lcs virus1 virus2 LEN IDX
        }
        assert_error {ERR syntax error} {r lcs virus1 virus2 foo}
        assert_error {ERR syntax error} {r lcs virus1 virus2 MINMATCHLEN}
        assert_error {ERR value is not an integer or out of range} {
            r lcs virus1 virus2 MINMATCHLEN x
        }
    }

    test {LCS IDX is a map under RESP3} {
        set c [new_client]
        $c hello 3
        set reply [$c lcs virus1 virus2 IDX]
        set type [$c last_type]
        $c close
        list $type [dict get $reply len]
    } {map 6}

    test {wrong number of arguments} {
        foreach {cmd args} {
            get {} get {a b} set {a} setnx {a} setex {a 1} psetex {a 1} getset {a}
            getdel {} getex {} mget {} mset {a} msetnx {a} append {a} strlen {}
            getrange {a 1} substr {a 1} setrange {a 1} lcs {a}
        } {
            assert_error "ERR wrong number of arguments for '$cmd' command" {r $cmd {*}$args}
        }
    }

    test {pipelined string commands on one key see each other, in order} {
        set c [deferred_client]
        $c del pk
        foreach cmd {{set pk a} {append pk b} {get pk} {setrange pk 0 X} {getset pk c}
                     {set pk d NX GET} {set pk e XX GET} {getdel pk} {get pk} {setnx pk f}
                     {mset pk g other h} {mget pk other} {getex pk PX 100000} {strlen pk}} {
            $c {*}$cmd
        }
        set out {}
        for {set i 0} {$i < 15} {incr i} { lappend out [$c read] }
        $c close
        set out
    } {0 OK 2 ab 2 Xb c c e {} 1 OK {g h} g 1}

    test {the connection works after all those errors} {
        r set after ok
        r get after
    } ok
}

start_server {tags {"string resp3"}} {
    test {RESP3: nulls of GET, SET NX, SET GET, GETDEL and GETEX are "_"} {
        r hello 3
        r del nokey
        r set k v
        set types {}
        foreach cmd {{get nokey} {set k v NX} {set nokey v2 XX GET} {getdel nokey}
                     {getex nokey} {getset nokey2 x}} {
            assert_equal [r {*}$cmd] ""
            lappend types [r last_prefix]
        }
        set types
    } {_ _ _ _ _ _}

    test {RESP3: MGET mixes bulks and "_"} {
        r set k v
        r del nokey
        assert_equal [r mget k nokey] {v {}}
        r last_type
    } array

    test {RESP3: GETRANGE of a missing key is an empty bulk, not null} {
        r del nokey
        list [r getrange nokey 0 -1] [r last_type]
    } {{} bulk}
}
