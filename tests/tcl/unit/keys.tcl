# keys.tcl -- the generic key commands: DEL, UNLINK, EXISTS, TOUCH, RENAME, RENAMENX,
# COPY, DBSIZE, FLUSHDB, FLUSHALL, KEYS, RANDOMKEY, MEMORY USAGE. TYPE is in type.tcl,
# SCAN in scan.tcl, the EXPIRE family in expire.tcl.

start_server {tags {"keys"}} {
    test {DEL of one key} {
        r set k v
        list [r del k] [r exists k] [r del k]
    } {1 0 0}

    test {DEL of several keys counts the ones that existed} {
        r mset a 1 b 2 c 3
        r del d
        list [r del a b d c] [r exists a b c]
    } {3 0}

    test {DEL of a key named twice counts it once} {
        r set a 1
        r del a a a
    } 1

    test {UNLINK is DEL} {
        r mset a 1 b 2
        list [r unlink a b nokey] [r exists a b]
    } {2 0}

    test {DEL of a binary key} {
        r set "d\x00\r\n" v
        list [r del "d\x00\r\n"] [r exists "d\x00\r\n"]
    } {1 0}

    test {EXISTS counts keys, a key named twice twice} {
        r mset a 1 b 2
        r del nokey
        list [r exists a] [r exists nokey] [r exists a b nokey] [r exists a a a nokey]
    } {1 0 2 3}

    test {TOUCH counts the keys that exist} {
        r mset a 1 b 2
        r del nokey
        list [r touch a] [r touch nokey] [r touch a b nokey] [r touch a a]
    } {1 0 2 2}

    test {RENAME moves the value} {
        r del dst
        r set src hello
        list [r rename src dst] [r exists src] [r get dst]
    } {OK 0 hello}

    test {RENAME overwrites the destination} {
        r set src new
        r set dst old
        r rename src dst
        list [r get dst] [r exists src]
    } {new 0}

    test {RENAME of a missing key} {
        r del src
        assert_error {ERR no such key} {r rename src dst}
        assert_error {ERR no such key} {r renamenx src dst}
    }

    test {RENAME of a key onto itself} {
        r set same v
        r del nosame
        assert_equal [r rename same same] OK
        assert_equal [r get same] v
        assert_error {ERR no such key} {r rename nosame nosame}
        list [r renamenx same same] [catch {r renamenx nosame nosame} e] $e
    } {0 1 {ERR no such key}}

    test {RENAMENX} {
        r set src v1
        r set dst v2
        assert_equal [r renamenx src dst] 0
        assert_equal [r get dst] v2
        r del dst
        list [r renamenx src dst] [r get dst] [r exists src]
    } {1 v1 0}

    test {RENAME of binary keys} {
        r set "r\x00a" v
        r rename "r\x00a" "r\x00b\r\n"
        list [r get "r\x00b\r\n"] [r exists "r\x00a"]
    } {v 0}

    test {COPY} {
        r set src hello
        r del dst
        list [r copy src dst] [r get src] [r get dst]
    } {1 hello hello}

    test {COPY onto an existing key needs REPLACE} {
        r set src new
        r set dst old
        assert_equal [r copy src dst] 0
        assert_equal [r get dst] old
        assert_equal [r copy src dst REPLACE] 1
        r get dst
    } new

    test {COPY of a missing key replies 0} {
        r del nosrc dst
        list [r copy nosrc dst] [r copy nosrc dst replace] [r exists dst]
    } {0 0 0}

    test {COPY REPLACE clears a TTL the destination had} {
        r set src v
        r set dst w EX 100
        r copy src dst replace
        r ttl dst
    } -1

    test {COPY into the current database with DB} {
        r select 9
        r set src v
        r del dst
        list [r copy src dst DB 9] [r get dst]
    } {1 v}

    test {COPY to the same key} {
        r set src v
        assert_error {ERR source and destination objects are the same} {r copy src src}
        assert_error {ERR source and destination objects are the same} {r copy src src REPLACE}
    }

    test {COPY option errors} {
        r set src v
        assert_error {ERR syntax error} {r copy src dst foo}
        assert_error {ERR syntax error} {r copy src dst DB}
        assert_error {ERR value is not an integer or out of range} {r copy src dst DB abc}
        assert_error {ERR value is out of range, value must between -2147483648 and 2147483647} {
            r copy src dst DB 2147483648
        }
        assert_error {ERR DB index is out of range} {r copy src dst DB -1}
        assert_error {ERR DB index is out of range} {r copy src dst DB 16}
        assert_error {ERR DB index is out of range} {r copy src dst DB 100 REPLACE}
    }

    test {COPY to another database} {
        r select 9
        r set src v
        r del dst
        r select 10
        r del dst
        r select 9
        set ok [r copy src dst DB 10]
        r select 10
        set v [r get dst]
        r select 9
        list $ok $v [r get src] [r exists dst]
    } {1 v v 0}

    test {COPY to another database may keep the key's name} {
        r select 9
        r set same v9
        r select 10
        r del same
        r select 9
        assert_equal [r copy same same DB 10] 1
        r select 10
        set v [r get same]
        r select 9
        list $v [r get same]
    } {v9 v9}

    test {COPY to another database carries the TTL} {
        r select 9
        set at [expr {[clock milliseconds] + 1000000}]
        r set src v
        r pexpireat src $at
        r select 10
        r del dst
        r select 9
        assert_equal [r copy src dst DB 10] 1
        r select 10
        set got [list [r pexpiretime dst] [r get dst]]
        r select 9
        list [expr {[lindex $got 0] == $at}] [lindex $got 1]
    } {1 v}

    test {COPY to another database onto a live key needs REPLACE} {
        r select 10
        r set dst old EX 100
        r select 9
        r set src new
        assert_equal [r copy src dst DB 10] 0
        r select 10
        assert_equal [r get dst] old
        r select 9
        assert_equal [r copy src dst DB 10 REPLACE] 1
        r select 10
        set got [list [r get dst] [r ttl dst]]
        r select 9
        set got
    } {new -1}

    test {COPY to another database of a missing key replies 0} {
        r select 10
        r del dst
        r select 9
        r del nosrc
        set got [list [r copy nosrc dst DB 10] [r copy nosrc dst DB 10 REPLACE]]
        r select 10
        lappend got [r exists dst]
        r select 9
        set got
    } {0 0 0}

    test {COPY to another database onto an expired key copies} {
        r select 10
        r set dst old PX 1
        wait_for_condition 100 10 {[r exists dst] == 0}
        r select 9
        r set src new
        set ok [r copy src dst DB 10]
        r select 10
        set v [r get dst]
        r select 9
        list $ok $v
    } {1 new}

    test {pipelined commands on the other database see the COPY} {
        r select 10
        for {set i 0} {$i < 20} {incr i} { r del "pd:$i" }
        r select 9
        for {set i 0} {$i < 20} {incr i} { r set "ps:$i" "v$i" }
        r deferred 1
        for {set i 0} {$i < 20} {incr i} {
            r copy "ps:$i" "pd:$i" DB 10
            r select 10
            r get "pd:$i"
            r select 9
        }
        r deferred 0
        set got {}
        for {set i 0} {$i < 20} {incr i} {
            lappend got [r read] [r read] [r read] [r read]
        }
        set want {}
        for {set i 0} {$i < 20} {incr i} { lappend want 1 OK "v$i" OK }
        expr {$got eq $want}
    } 1

    test {COPY errors come in Redis's order} {
        r select 9
        r set src v
        # The database is checked before the source and destination are compared.
        assert_error {ERR DB index is out of range} {r copy src src DB 16}
        assert_error {ERR source and destination objects are the same} {r copy src src DB 9}
        assert_error {ERR syntax error} {r copy src src DB 10 foo}
        assert_error {ERR DB index is out of range} {r copy nosrc dst DB 16}
    }

    test {COPY to another database inside MULTI} {
        r select 10
        r del dst3
        r set dst old
        r select 9
        r set src v
        r pexpire src 100000
        r del dst2
        r multi
        r copy src dst DB 10
        r copy src dst DB 10 REPLACE
        r copy src dst2 DB 9 REPLACE
        r copy src dst3 DB 10
        set res [r exec]
        assert_equal {0 1 1 1} $res
        r select 10
        set ttl [r pttl dst3]
        assert_range $ttl 1 100000
        list [r get dst] [r get dst3] [r exists dst2]
    } {v v 0}

    test {databases are separate keyspaces} {
        r select 9
        r flushdb
        r set shared db9
        r select 10
        r flushdb
        assert_equal [r exists shared] 0
        r set shared db10
        r select 9
        set out [list [r get shared] [r dbsize] [r keys *]]
        r select 10
        lappend out [r get shared]
        r select 9
        set out
    } {db9 1 shared db10}

    test {DBSIZE} {
        r flushdb
        assert_equal [r dbsize] 0
        r mset a 1 b 2 c 3
        assert_equal [r dbsize] 3
        r del a
        r dbsize
    } 2

    test {FLUSHDB empties only the current database} {
        r select 9
        r mset a 1 b 2
        r select 10
        r flushdb
        r set c 3
        r select 9
        assert_equal [r flushdb] OK
        assert_equal [r dbsize] 0
        r select 10
        set n [r dbsize]
        r select 9
        set n
    } 1

    test {FLUSHDB SYNC, ASYNC, and bad arguments} {
        r set a 1
        assert_equal [r flushdb sync] OK
        assert_equal [r dbsize] 0
        r set a 1
        assert_equal [r flushdb ASYNC] OK
        assert_equal [r dbsize] 0
        assert_error {ERR syntax error} {r flushdb foo}
        assert_error {ERR syntax error} {r flushdb sync async}
        assert_error {ERR syntax error} {r flushall foo}
        assert_error {ERR syntax error} {r flushall async sync}
    }

    test {FLUSHALL empties every database} {
        r select 9
        r set a 1
        r select 10
        r set b 2
        assert_equal [r flushall] OK
        set out [r dbsize]
        r select 9
        lappend out [r dbsize]
        r set a 1
        r flushall async
        lappend out [r dbsize]
    } {0 0 0}

    test {KEYS with patterns} {
        r flushdb
        foreach k {foo_a foo_b foo_c key_x key_y key_z foo} {
            r set $k x
        }
        list [lsort [r keys foo*]] [lsort [r keys *]] [lsort [r keys key_?]] \
            [lsort [r keys {*_[ab]}]] [lsort [r keys {*_[^ab]}]] [lsort [r keys {key_[x-y]}]] \
            [r keys nomatch*] [r keys foo]
    } {{foo foo_a foo_b foo_c} {foo foo_a foo_b foo_c key_x key_y key_z} {key_x key_y key_z} {foo_a foo_b} {foo_c key_x key_y key_z} {key_x key_y} {} foo}

    test {KEYS with escapes and special characters} {
        r flushdb
        r mset {a*b} 1 {a?b} 2 {a[b} 3 {a\b} 4 axb 5
        list [r keys {a\*b}] [r keys {a\?b}] [r keys {a\[b}] [r keys {a\\b}] [lsort [r keys {a?b}]]
    } [list [list {a*b}] [list {a?b}] [list {a[b}] [list {a\b}] \
           [lsort [list {a*b} {a?b} {a[b} {a\b} axb]]]

    test {KEYS with binary keys} {
        r flushdb
        r set "b\x00\r\n1" x
        r set "b\x00\r\n2" x
        r set "c" x
        lsort [r keys "b\x00*"]
    } [list "b\x00\r\n1" "b\x00\r\n2"]

    test {KEYS of an empty database} {
        r flushdb
        list [r keys *] [r last_type]
    } {{} array}

    test {KEYS with a pattern whose prefix is the last byte value} {
        r flushdb
        r set "\xff\xff" x
        r set "\xff\xffa" x
        r set "\xfe" x
        lsort [r keys "\xff\xff*"]
    } [list "\xff\xff" "\xff\xffa"]

    test {KEYS of many keys} {
        r flushdb
        for {set i 0} {$i < 5000} {incr i} {
            r set "many:$i" x
        }
        r set other x
        list [llength [r keys *]] [llength [r keys many:*]] [llength [r keys many:1*]] \
            [llength [r keys *9]]
    } {5001 5000 1111 500}

    test {RANDOMKEY of an empty database is null} {
        r flushdb
        list [r randomkey] [r last_type]
    } {{} null}

    test {RANDOMKEY of a database with one key} {
        r set only "v"
        r randomkey
    } only

    test {RANDOMKEY returns existing keys, and not always the same} {
        r flushdb
        for {set i 0} {$i < 100} {incr i} {
            r set "rk:$i" x
        }
        set seen {}
        for {set i 0} {$i < 200} {incr i} {
            set k [r randomkey]
            assert_match {rk:*} $k
            dict incr seen $k
        }
        assert_true {[dict size $seen] > 20}
    }

    # Every key has the same odds (1/200 a call). Over 8000 calls a key is missing with
    # probability (1 - 1/200)^8000 < 1e-17, and comes up 150 times (expected: 40) with
    # probability below 1e-40: bounds no fair sampler breaks, which a biased one does (the
    # byte-space method alone never reaches most of these keys).
    test {RANDOMKEY: every key comes up, none dominates} {
        r flushdb
        for {set i 0} {$i < 200} {incr i} {
            r set "u:$i" x
        }
        set seen {}
        for {set i 0} {$i < 8000} {incr i} {
            dict incr seen [r randomkey]
        }
        set max 0
        dict for {k n} $seen {
            assert_match {u:*} $k
            if {$n > $max} { set max $n }
        }
        list [dict size $seen] [expr {$max < 150}]
    } {200 1}

    test {RANDOMKEY with binary keys} {
        r flushdb
        r set "\x00" a
        r set "\xff\xff" b
        set seen {}
        for {set i 0} {$i < 100} {incr i} {
            dict incr seen [r randomkey]
        }
        lsort [dict keys $seen]
    } [list "\x00" "\xff\xff"]

    test {MEMORY USAGE} {
        r set mu [string repeat x 1000]
        set n [r memory usage mu]
        assert_range $n 1000 2000
        assert_equal [r memory usage mu SAMPLES 5] $n
        assert_equal [r memory usage mu samples 0] $n
        r del nomu
        list [r memory usage nomu] [r last_type]
    } {{} null}

    test {MEMORY USAGE grows with the value} {
        r set mu1 x
        r set mu2 [string repeat x 100000]
        assert_true {[r memory usage mu2] > [r memory usage mu1] + 90000}
    }

    test {MEMORY USAGE errors} {
        r set mu v
        assert_error {ERR syntax error} {r memory usage mu foo}
        assert_error {ERR syntax error} {r memory usage mu SAMPLES}
        assert_error {ERR syntax error} {r memory usage mu SAMPLES -1}
        assert_error {ERR value is not an integer or out of range} {r memory usage mu SAMPLES x}
        assert_error {ERR wrong number of arguments for 'memory|usage' command} {r memory usage}
        assert_error {ERR wrong number of arguments for 'memory' command} {r memory}
        assert_error {ERR unknown subcommand 'foo'. Try MEMORY HELP.} {r memory foo}
    }

    test {MEMORY HELP} {
        set help [r memory help]
        assert_match {MEMORY <subcommand>*} [lindex $help 0]
        assert_true {[lsearch -glob $help {USAGE <key>*}] >= 0}
        lindex $help end-1
    } HELP

    test {wrong number of arguments} {
        foreach {cmd args} {del {} unlink {} exists {} touch {} rename {a} renamenx {a b c}
                            copy {a} dbsize {x} keys {} keys {a b} randomkey {x}} {
            assert_error "ERR wrong number of arguments for '$cmd' command" {r $cmd {*}$args}
        }
    }
}
