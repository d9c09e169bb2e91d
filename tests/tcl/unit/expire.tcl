# expire.tcl -- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX XX GT LT), TTL, PTTL,
# EXPIRETIME, PEXPIRETIME, PERSIST, and which commands keep or clear a TTL. Timing checks
# use wide margins (a loaded machine must not fail them) and poll rather than sleep exact.

# PEXPIRETIME is exact, in Basalt as in Redis: it reads the stored expiry (cmd_keys.c).
proc assert_pexpiretime {got lo {hi ""}} {
    if {$hi eq ""} { set hi $lo }
    assert_range $got $lo $hi
}

start_server {tags {"expire"}} {
    test {EXPIRE sets a TTL and replies 1} {
        r set x foo
        assert_equal [r expire x 100] 1
        assert_range [r ttl x] 98 100
        r get x
    } foo

    test {EXPIRE of a missing key replies 0} {
        r del x
        r expire x 100
    } 0

    test {EXPIRE again overwrites the TTL} {
        r set x foo
        r expire x 100
        r expire x 200
        assert_range [r ttl x] 198 200
    }

    test {PEXPIRE, EXPIREAT and PEXPIREAT} {
        r set x foo
        assert_equal [r pexpire x 100000] 1
        assert_range [r pttl x] 98000 100000
        assert_equal [r expireat x [expr {[clock seconds] + 200}]] 1
        assert_range [r ttl x] 198 200
        assert_equal [r pexpireat x [expr {[clock milliseconds] + 300000}]] 1
        assert_range [r ttl x] 298 300
    }

    test {a key expires} {
        r set x foo
        r pexpire x 200
        assert_equal [r get x] foo
        wait_for_condition 100 50 {[r exists x] == 0}
        list [r get x] [r ttl x] [r pttl x]
    } {{} -2 -2}

    test {SETEX keys expire} {
        r setex x 1 foo
        wait_for_condition 100 50 {[r get x] eq ""}
        r exists x
    } 0

    test {an expired key is gone for every read} {
        r psetex gone 100 v
        wait_for_condition 100 50 {[r exists gone] == 0}
        list [r get gone] [r mget gone] [r strlen gone] [r type gone] [r keys gone] \
            [r getrange gone 0 -1] [r lcs gone gone LEN]
    } {{} {{}} 0 none {} {} 0}

    test {an expired key is gone for every write} {
        r psetex gone 100 5
        wait_for_condition 100 50 {[r exists gone] == 0}
        set out [list [r incr gone] [r ttl gone]]
        r psetex gone 100 abc
        wait_for_condition 100 50 {[r exists gone] == 0}
        lappend out [r append gone x] [r setnx gone2 y] [r expire gone 100]
        r psetex gone 100 v
        wait_for_condition 100 50 {[r exists gone] == 0}
        lappend out [r set gone w NX] [r getset gone2 z] [r persist gone3]
    } {1 -1 1 1 1 OK y 0}

    test {EXPIRE with a negative time deletes the key and replies 1} {
        r set x foo
        list [r expire x -10] [r exists x]
    } {1 0}

    test {EXPIRE 0 and PEXPIRE 0 delete} {
        r set x foo
        r set y foo
        list [r expire x 0] [r pexpire y 0] [r exists x y]
    } {1 1 0}

    test {EXPIREAT and PEXPIREAT in the past delete the key} {
        r set x foo
        r set y foo
        list [r expireat x 1] [r pexpireat y [expr {[clock milliseconds] - 1000}]] [r exists x y]
    } {1 1 0}

    test {EXPIREAT with a negative time deletes the key} {
        r set x foo
        list [r expireat x -100] [r exists x]
    } {1 0}

    test {EXPIRE with a time that overflows} {
        r set x foo
        assert_error {ERR invalid expire time in 'expire' command} {r expire x 9223372036854775807}
        assert_error {ERR invalid expire time in 'expire' command} {r expire x -9223372036854775808}
        assert_error {ERR invalid expire time in 'expire' command} {r expire x 9223372036854775}
        assert_error {ERR invalid expire time in 'pexpire' command} {r pexpire x 9223372036854775807}
        assert_error {ERR invalid expire time in 'expireat' command} {r expireat x 9223372036854775807}
        r ttl x
    } -1

    test {PEXPIREAT with the largest time is not an overflow} {
        r set x foo
        assert_equal [r pexpireat x 9223372036854775807] 1
        assert_equal [r pexpiretime x] 9223372036854775807
        r persist x
    } 1

    test {EXPIRE with a time that is not an integer} {
        r set x foo
        foreach t {abc 1.5 " 1" "+1" "" 9223372036854775808} {
            assert_error {ERR value is not an integer or out of range} {r expire x $t}
            assert_error {ERR value is not an integer or out of range} {r pexpireat x $t}
        }
    }

    test {EXPIRE NX sets only a key without TTL} {
        r set x foo
        assert_equal [r expire x 100 NX] 1
        assert_equal [r expire x 200 nx] 0
        assert_range [r ttl x] 98 100
    }

    test {EXPIRE XX sets only a key with a TTL} {
        r set x foo
        assert_equal [r expire x 100 XX] 0
        assert_equal [r ttl x] -1
        r expire x 100
        assert_equal [r expire x 200 xx] 1
        assert_range [r ttl x] 198 200
    }

    test {EXPIRE GT: a key without TTL counts as infinite} {
        r set x foo
        assert_equal [r expire x 100 GT] 0
        assert_equal [r ttl x] -1
        set at [expr {[clock seconds] + 100}]
        r expireat x $at
        assert_equal [r expireat x [expr {$at - 50}] GT] 0
        assert_equal [r expireat x $at GT] 0
        assert_equal [r expireat x [expr {$at + 100}] gt] 1
        assert_range [r ttl x] 198 200
    }

    test {EXPIRE LT: a key without TTL counts as infinite} {
        r set x foo
        set at [expr {[clock seconds] + 100}]
        assert_equal [r expireat x $at LT] 1
        assert_equal [r expireat x [expr {$at + 100}] LT] 0
        assert_equal [r expireat x $at LT] 0
        assert_equal [r expireat x [expr {$at - 50}] lt] 1
        assert_range [r ttl x] 48 50
    }

    test {EXPIRE XX GT and XX LT together} {
        r set x foo
        assert_equal [r expire x 100 XX GT] 0
        r expire x 100
        list [r expire x 200 XX GT] [r expire x 50 XX GT] [r expire x 50 XX LT]
    } {1 0 1}

    test {EXPIRE LT with a negative time deletes a key with a TTL} {
        r set x foo EX 100
        list [r expire x -1 LT] [r exists x]
    } {1 0}

    test {EXPIRE GT with a negative time leaves a key without TTL} {
        r set x foo
        list [r expire x -1 GT] [r exists x]
    } {0 1}

    test {EXPIRE options on a missing key reply 0} {
        r del x
        list [r expire x 100 NX] [r expire x 100 XX] [r expire x 100 GT] [r expire x 100 LT]
    } {0 0 0 0}

    test {EXPIRE with incompatible options} {
        r set x foo
        foreach opts {{NX XX} {NX GT} {NX LT} {XX NX} {NX XX GT LT}} {
            assert_error {ERR NX and XX, GT or LT options at the same time are not compatible} {
                r expire x 100 {*}$opts
            }
        }
        assert_error {ERR GT and LT options at the same time are not compatible} {r expire x 100 GT LT}
        assert_error {ERR GT and LT options at the same time are not compatible} {r pexpire x 100 XX GT LT}
        r ttl x
    } -1

    test {EXPIRE with an unknown option} {
        r set x foo
        assert_error {ERR Unsupported option foo} {r expire x 100 foo}
        assert_error {ERR Unsupported option bar} {r pexpireat x 100 NX bar}
        assert_error {ERR Unsupported option*} {r expire x 100 ""}
        # Options are checked before the time.
        assert_error {ERR Unsupported option foo} {r expire x abc foo}
        assert_error {ERR NX and XX, GT or LT options at the same time are not compatible} {
            r expire x abc NX XX
        }
    }

    test {EXPIRE options may repeat} {
        r set x foo
        r expire x 100 NX NX
    } 1

    test {TTL and PTTL of a missing key and of a key without TTL} {
        r del x
        r set y foo
        list [r ttl x] [r pttl x] [r ttl y] [r pttl y]
    } {-2 -2 -1 -1}

    test {TTL rounds to the nearest second} {
        r set x foo
        r pexpire x 1600
        set a [r ttl x]
        r pexpire x 100000400
        list $a [r ttl x]
    } {2 100000}

    test {PTTL counts down} {
        r set x foo PX 100000
        set a [r pttl x]
        after 20
        set b [r pttl x]
        assert_true {$b < $a}
        assert_range $b 90000 100000
    }

    test {EXPIRETIME and PEXPIRETIME} {
        r del x
        r set y foo
        assert_equal [list [r expiretime x] [r pexpiretime x] [r expiretime y] [r pexpiretime y]] \
            {-2 -2 -1 -1}
        set at [expr {[clock seconds] + 1000}]
        r expireat y $at
        assert_equal [r expiretime y] $at
        assert_pexpiretime [r pexpiretime y] [expr {$at * 1000}]
        set pat [expr {[clock milliseconds] + 1000000}]
        r pexpireat y $pat
        assert_pexpiretime [r pexpiretime y] $pat
        assert_equal [r expiretime y] [expr {($pat + 500) / 1000}]
    }

    test {EXPIRETIME after a relative EXPIRE} {
        r set y foo
        set t0 [clock milliseconds]
        r pexpire y 100000
        set t1 [clock milliseconds]
        assert_pexpiretime [r pexpiretime y] [expr {$t0 + 100000}] [expr {$t1 + 100000}]
    }

    test {PERSIST removes the TTL} {
        r set x foo EX 100
        list [r persist x] [r ttl x] [r get x]
    } {1 -1 foo}

    test {PERSIST of a key without TTL or a missing key replies 0} {
        r set x foo
        r del y
        list [r persist x] [r persist y]
    } {0 0}

    test {commands that keep the TTL} {
        r set t 1 EX 100
        r incr t
        r incrby t 2
        r decr t
        r incrbyfloat t 1.5
        r append t 0
        r setrange t 0 9
        r set t 7 KEEPTTL
        r setnx t 8
        r getex t
        assert_equal [r get t] 7
        assert_range [r ttl t] 97 100
    }

    test {commands that clear the TTL} {
        set out {}
        foreach cmd {{set t v} {getset t v} {mset t v} {getex t PERSIST}} {
            r set t 1 EX 100
            catch {r {*}$cmd}
            lappend out [r ttl t]
        }
        set out
    } {-1 -1 -1 -1}

    test {RENAME carries the TTL, COPY too} {
        r del t2 t3
        r set t v EX 100
        r rename t t2
        assert_range [r ttl t2] 98 100
        r copy t2 t3
        assert_range [r ttl t3] 98 100
        r set t4 v
        r rename t4 t2
        r ttl t2
    } -1

    test {SET EX with a very large TTL} {
        r set big v EX 9223372036854
        assert_range [r ttl big] 9223372036000 9223372036854
    }

    test {binary keys have TTLs too} {
        r set "t\x00\r\n" v EX 100
        assert_range [r ttl "t\x00\r\n"] 98 100
        list [r persist "t\x00\r\n"] [r ttl "t\x00\r\n"]
    } {1 -1}

    test {wrong number of arguments} {
        foreach {cmd args} {expire {a} pexpire {a} expireat {} pexpireat {a} ttl {}
                            ttl {a b} pttl {} expiretime {} pexpiretime {a b}
                            persist {} persist {a b}} {
            assert_error "ERR wrong number of arguments for '$cmd' command" {r $cmd {*}$args}
        }
    }
}
