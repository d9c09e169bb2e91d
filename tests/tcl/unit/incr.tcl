# incr.tcl -- INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT: Redis's number parsing, overflow
# checks, float formatting, TTL kept, and atomicity under concurrent clients.

start_server {tags {"incr"}} {
    test {INCR against a missing key} {
        r del n
        list [r incr n] [r get n]
    } {1 1}

    test {INCR against a key created by INCR} {
        r incr n
    } 2

    test {INCR against a key set by SET} {
        r set n 41
        r incr n
    } 42

    test {INCR replies with an integer} {
        r set n 1
        r incr n
        r last_type
    } integer

    test {DECR against a missing key and below zero} {
        r del n
        list [r decr n] [r decr n] [r get n]
    } {-1 -2 -2}

    test {INCRBY and DECRBY} {
        r set n 10
        list [r incrby n 5] [r incrby n -20] [r decrby n 5] [r decrby n -100]
    } {15 -5 -10 90}

    test {INCRBY over 32 bits} {
        r set n 17179869184
        r incrby n 17179869184
    } 34359738368

    test {INCR fails against a value that is not an integer} {
        foreach v {abc 1.5 " 11" "11 " "+1" "01" "-0" "" "1e3" "0x10" "9223372036854775808"
                   "1\x00"} {
            r set n $v
            assert_error {ERR value is not an integer or out of range} {r incr n}
            assert_equal [r get n] $v
        }
    }

    test {INCR accepts the extremes of a 64-bit integer} {
        r set n -9223372036854775807
        assert_equal [r decr n] -9223372036854775808
        r set n 9223372036854775806
        r incr n
    } 9223372036854775807

    test {INCR and DECR overflow} {
        r set n 9223372036854775807
        assert_error {ERR increment or decrement would overflow} {r incr n}
        r set n -9223372036854775808
        assert_error {ERR increment or decrement would overflow} {r decr n}
        assert_error {ERR increment or decrement would overflow} {r incrby n -1}
        r set n 1
        assert_error {ERR increment or decrement would overflow} {r incrby n 9223372036854775807}
        r get n
    } 1

    test {DECRBY of the smallest 64-bit integer} {
        r set n 0
        assert_error {ERR decrement would overflow} {r decrby n -9223372036854775808}
        r incrby n -9223372036854775808
    } -9223372036854775808

    test {INCRBY and DECRBY with an argument that is not an integer} {
        r set n 1
        foreach a {abc 1.5 " 1" "+1" "01" 9223372036854775808 ""} {
            assert_error {ERR value is not an integer or out of range} {r incrby n $a}
            assert_error {ERR value is not an integer or out of range} {r decrby n $a}
        }
        r get n
    } 1

    test {INCR keeps the TTL} {
        r set n 1 EX 100
        r incr n
        assert_range [r ttl n] 98 100
        r incrbyfloat n 1.5
        assert_range [r ttl n] 98 100
    }

    test {INCR of a binary key} {
        r del "n\x00\r\n"
        r incr "n\x00\r\n"
        r incrby "n\x00\r\n" 2
    } 3

    test {INCRBYFLOAT against a missing key} {
        r del f
        list [r incrbyfloat f 1] [r incrbyfloat f 0.25] [r get f]
    } {1 1.25 1.25}

    test {INCRBYFLOAT formatting} {
        set out {}
        foreach {from by} {10.50 0.1  5.0e3 2.0e2  0 3.0e3  1 -1  -1 0.5  3 0
                              1.1 1.1  0 1e-15  100 -0  17179869184 1.5} {
            r set f $from
            lappend out [r incrbyfloat f $by]
        }
        set out
    } {10.6 5200 3000 0 -0.5 3 2.2 0.000000000000001 100 17179869185.5}

    test {INCRBYFLOAT of an integer value} {
        r set f 5
        r incrbyfloat f 5
    } 10

    test {INCRBYFLOAT replies with a bulk string, under RESP3 too} {
        r set f 1
        r incrbyfloat f 1
        assert_equal [r last_type] bulk
        set c [new_client]
        $c hello 3
        $c incrbyfloat f 1.5
        set t [$c last_type]
        $c close
        set t
    } bulk

    test {INCRBYFLOAT against a value that is not a float} {
        foreach v {abc " 1" "1 " "" "1.5x" "nan" "0x1p3g"} {
            r set f $v
            assert_error {ERR value is not a valid float} {r incrbyfloat f 1}
            assert_equal [r get f] $v
        }
    }

    test {INCRBYFLOAT with an increment that is not a float} {
        r set f 1
        foreach a {abc " 1" "" "1,5" "nan" "-nan"} {
            assert_error {ERR value is not a valid float} {r incrbyfloat f $a}
        }
        r get f
    } 1

    test {INCRBYFLOAT that would produce infinity} {
        r set f 1
        assert_error {ERR increment would produce NaN or Infinity} {r incrbyfloat f +inf}
        assert_error {ERR increment would produce NaN or Infinity} {r incrbyfloat f -inf}
        r get f
    } 1

    test {INCR fails after INCRBYFLOAT made a fraction} {
        r set f 1
        r incrbyfloat f 0.5
        assert_error {ERR value is not an integer or out of range} {r incr f}
    }

    test {INCR after INCRBYFLOAT made an integer} {
        r set f 1.5
        r incrbyfloat f 0.5
        r incr f
    } 3

    test {concurrent INCRs from several clients are all counted} {
        r del counter
        set clients {}
        for {set i 0} {$i < 8} {incr i} {
            lappend clients [deferred_client]
        }
        foreach c $clients {
            for {set j 0} {$j < 250} {incr j} {
                $c incr counter
            }
        }
        foreach c $clients {
            for {set j 0} {$j < 250} {incr j} {
                $c read
            }
            $c close
        }
        r get counter
    } 2000

    test {concurrent INCRBYFLOAT and APPEND from several clients} {
        r del fcount log
        set clients {}
        for {set i 0} {$i < 4} {incr i} {
            lappend clients [deferred_client]
        }
        foreach c $clients {
            for {set j 0} {$j < 100} {incr j} {
                $c incrbyfloat fcount 0.5
                $c append log x
            }
        }
        foreach c $clients {
            for {set j 0} {$j < 200} {incr j} {
                $c read
            }
            $c close
        }
        list [r get fcount] [r strlen log]
    } {200 400}

    test {wrong number of arguments} {
        foreach {cmd args} {incr {} incr {a b} decr {} incrby {a} decrby {a 1 2}
                            incrbyfloat {a}} {
            assert_error "ERR wrong number of arguments for '$cmd' command" {r $cmd {*}$args}
        }
    }
}
