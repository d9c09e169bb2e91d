# multi.tcl -- MULTI, EXEC, DISCARD, WATCH, UNWATCH: queueing, EXECABORT, per-command
# runtime errors, WATCH of changed, deleted, created and expiring keys, connection commands
# inside a transaction, and every string and key command answering inside EXEC exactly as
# it does alone. The concurrency checks (write skew, bank, crash) are in multi_stress.tcl.

# Sends EXEC on the block's connection and reads its reply element by element, so a reply
# holding errors comes back whole: errors as "!<text>", nulls as "", nested arrays as
# lists; a null EXEC (WATCH failed) as the string "nil".
proc multi_exec_raw {} {
    r write "*1\r\n\$4\r\nEXEC\r\n"
    set line [r read_line]
    if {$line eq "*-1" || $line eq "_"} { return nil }
    if {[string index $line 0] eq "-"} { return "![string range $line 1 end]" }
    return [multi_read_elements [string range $line 1 end]]
}

proc multi_read_elements {n} {
    set out {}
    for {set i 0} {$i < $n} {incr i} {
        set line [r read_line]
        set rest [string range $line 1 end]
        switch -- [string index $line 0] {
            + - : { lappend out $rest }
            - { lappend out "!$rest" }
            _ { lappend out "" }
            $ {
                if {$rest == -1} {
                    lappend out ""
                } else {
                    set bytes [r read_bytes [expr {$rest + 2}]]
                    lappend out [string range $bytes 0 end-2]
                }
            }
            * {
                if {$rest == -1} { lappend out "" } else { lappend out [multi_read_elements $rest] }
            }
            default { error "unexpected reply line '$line'" }
        }
    }
    return $out
}

# Runs cmds (a list of commands) one by one, collecting replies, errors as "!<text>".
proc multi_run_plain {cmds} {
    set out {}
    foreach c $cmds {
        if {[catch {r {*}$c} v]} { lappend out "!$v" } else { lappend out $v }
    }
    return $out
}

# The same commands inside MULTI/EXEC; each must be QUEUED.
proc multi_run_exec {cmds} {
    r multi
    foreach c $cmds {
        assert_equal QUEUED [r {*}$c]
    }
    multi_exec_raw
}

# cmds with every occurrence of the word KEY<n> replaced by prefix:<n>.
proc multi_keys {cmds prefix} {
    set out {}
    foreach c $cmds {
        set nc {}
        foreach a $c {
            if {[regexp {^KEY(\d*)$} $a -> n]} { set a "$prefix:$n" }
            lappend nc $a
        }
        lappend out $nc
    }
    return $out
}

start_server {tags {"multi"}} {
    test {MULTI / EXEC basics} {
        r del mylist a b
        r set a 1
        assert_equal OK [r multi]
        assert_equal QUEUED [r incr a]
        assert_equal QUEUED [r set b foo]
        assert_equal QUEUED [r get b]
        assert_equal QUEUED [r get a]
        r exec
    } {2 OK foo 2}

    test {EXEC of an empty transaction} {
        r multi
        r exec
    } {}

    test {DISCARD} {
        r set x old
        r multi
        r set x new
        r incr y
        assert_equal OK [r discard]
        list [r get x] [r exists y]
    } {old 0}

    test {EXEC after DISCARD is EXEC without MULTI} {
        r multi
        r set x 1
        r discard
        assert_error {*EXEC without MULTI*} {r exec}
    }

    test {EXEC without MULTI} {
        assert_error {ERR EXEC without MULTI} {r exec}
    }

    test {DISCARD without MULTI} {
        assert_error {ERR DISCARD without MULTI} {r discard}
    }

    test {nested MULTI is an error and keeps the transaction} {
        r del n1
        r multi
        catch {r multi} e
        assert_equal {ERR MULTI calls can not be nested} $e
        r set n1 v
        list [r exec] [r get n1]
    } {OK v}

    test {WATCH inside MULTI is an error and keeps the transaction} {
        r multi
        catch {r watch x} e
        assert_equal {ERR WATCH inside MULTI is not allowed} $e
        r ping
        r exec
    } PONG

    test {EXECABORT after an unknown command; nothing applied} {
        r del foo1 foo2
        r multi
        r set foo1 bar1
        catch {r non-existing-command} e
        assert_match {ERR unknown command 'non-existing-command'*} $e
        r set foo2 bar2
        catch {r exec} e
        assert_equal {EXECABORT Transaction discarded because of previous errors.} $e
        list [r exists foo1 foo2] [r ping]
    } {0 PONG}

    test {EXECABORT after a wrong number of arguments} {
        r del foo1
        r multi
        r set foo1 bar1
        catch {r set foo2} e
        assert_equal {ERR wrong number of arguments for 'set' command} $e
        catch {r exec} e
        list $e [r exists foo1]
    } {{EXECABORT Transaction discarded because of previous errors.} 0}

    test {a command not allowed in MULTI aborts the transaction} {
        r multi
        catch {r shutdown} e
        assert_equal {ERR Command not allowed inside a transaction} $e
        catch {r exec} e
        set e
    } {EXECABORT Transaction discarded because of previous errors.}

    test {the client leaves MULTI after EXECABORT} {
        r multi
        catch {r nosuchcommand} e
        catch {r exec} e
        list [r set x 1] [r get x]
    } {OK 1}

    test {runtime errors are per command; the others still apply} {
        r del s n after
        r set s foo
        r multi
        r set n 10
        r incr s
        r incr n
        r set after yes
        set res [multi_exec_raw]
        list $res [r get n] [r get after] [r get s]
    } {{OK {!ERR value is not an integer or out of range} 11 OK} 11 yes foo}

    test {argument errors found at EXEC are per command too} {
        r del k
        r multi
        r set k v EX notanumber
        r set k v EX 0
        r expire k 10 BADOPT
        r set k v2
        multi_exec_raw
    } {{!ERR value is not an integer or out of range} {!ERR invalid expire time in 'set' command} {!ERR Unsupported option BADOPT} OK}

    test {QUEUED for every command inside MULTI} {
        r multi
        set q [list [r set a 1] [r get a] [r ping] [r echo x] [r mget a b]]
        r discard
        set q
    } {QUEUED QUEUED QUEUED QUEUED QUEUED}

    test {connection commands inside MULTI} {
        r del a
        r multi
        r ping
        r echo hello
        r set a 1
        r ping pong
        r exec
    } {PONG hello OK pong}

    test {SELECT inside MULTI changes the database for what follows} {
        r select 9
        r del sel
        r select 0
        r set sel db0
        r multi
        r select 9
        r set sel db9
        r get sel
        set res [r exec]
        set out [list $res [r get sel]]
        r select 0
        lappend out [r get sel]
    } {{OK OK db9} db9 db0}

    test {a big transaction} {
        r del big
        r multi
        for {set i 0} {$i < 2000} {incr i} { r incr big }
        set res [r exec]
        list [llength $res] [lindex $res end] [r get big]
    } {2000 2000 2000}

    test {binary keys and values inside MULTI} {
        r multi
        r set "k\x00\r\n" "v\x00\r\n"
        r get "k\x00\r\n"
        r mget "k\x00\r\n" nokey
        r exec
    } [list OK "v\x00\r\n" [list "v\x00\r\n" {}]]

    test {pipelined transactions from one connection} {
        r del pc
        set rd [deferred_client]
        for {set i 0} {$i < 50} {incr i} {
            $rd multi
            $rd incr pc
            $rd get pc
            $rd exec
        }
        set last {}
        for {set i 0} {$i < 50} {incr i} {
            $rd read
            $rd read
            $rd read
            set last [$rd read]
        }
        $rd close
        list $last [r get pc]
    } {{50 50} 50}

    test {reads inside MULTI see the writes before them} {
        r del rw
        r multi
        r get rw
        r set rw 1
        r get rw
        r append rw 23
        r get rw
        r del rw
        r get rw
        r exec
    } {{} OK 1 3 123 1 {}}

    test {TTL, PTTL and KEEPTTL inside MULTI} {
        r del t
        r multi
        r set t v EX 1000
        r ttl t
        r set t w KEEPTTL
        r ttl t
        r get t
        r persist t
        r ttl t
        r pexpire t 500000
        r ttl t
        r set t x
        r ttl t
        set res [r exec]
        list $res [r ttl t]
    } {{OK 1000 OK 1000 w 1 -1 1 500 OK -1} -1}

    test {MSET, MSETNX, DEL, EXISTS, RENAME, COPY inside MULTI} {
        r del m1 m2 m3 r1 r2
        r multi
        r mset m1 a m2 b
        r msetnx m2 x m3 y
        r msetnx m3 y
        r exists m1 m2 m3 m1 none
        r rename m1 r1
        r renamenx m2 r1
        r copy r1 r2
        r del m1 m2 m3 m2 none
        r mget r1 r2 m1
        r exec
    } {OK 0 1 4 OK 0 1 2 {a a {}}}

    test {RENAME of a missing key inside MULTI} {
        r del nokey
        r multi
        r rename nokey other
        r set after 1
        multi_exec_raw
    } {{!ERR no such key} OK}

    test {the EXEC reply under RESP3} {
        r hello 3
        r multi
        r set r3 v
        r get r3
        r get nokey3
        set res [r exec]
        r hello 2
        set res
    } {OK v {}}
}

# Every string and key command answers inside EXEC as it does alone.
start_server {tags {"multi"}} {
    set cmds {
        {set KEY1 hello}
        {get KEY1}
        {set KEY1 world GET}
        {set KEY1 x NX}
        {set KEY1 y XX}
        {set KEY2 z XX}
        {set KEY2 z NX GET}
        {setnx KEY1 no}
        {setnx KEY3 yes}
        {getset KEY3 new}
        {getdel KEY3}
        {getdel KEY3}
        {setex KEY4 1000 v4}
        {ttl KEY4}
        {psetex KEY5 1000000 v5}
        {ttl KEY5}
        {getex KEY5 PERSIST}
        {ttl KEY5}
        {getex KEY5 EX 2000}
        {ttl KEY5}
        {getex KEY6 EX 0}
        {getex KEY5 EX 0}
        {getex KEY5}
        {mset KEY6 a KEY7 b KEY6 c}
        {mget KEY6 KEY7 KEY8 KEY6}
        {msetnx KEY8 1 KEY9 2}
        {msetnx KEY8 1 KEY10 2}
        {append KEY8 abc}
        {append KEY11 xyz}
        {strlen KEY8}
        {strlen KEY12}
        {getrange KEY8 1 -1}
        {getrange KEY8 -100 100}
        {getrange KEY8 -1 -5}
        {substr KEY8 0 0}
        {setrange KEY8 6 xx}
        {get KEY8}
        {setrange KEY13 2 ab}
        {get KEY13}
        {setrange KEY13 -1 ab}
        {incr KEY14}
        {incrby KEY14 10}
        {decr KEY14}
        {decrby KEY14 5}
        {incrbyfloat KEY14 1.5}
        {incrbyfloat KEY14 abc}
        {incr KEY1}
        {incrby KEY14 notanumber}
        {decrby KEY14 -9223372036854775808}
        {set KEY15 9223372036854775807}
        {incr KEY15}
        {del KEY1 KEY2 KEY1 KEY16}
        {unlink KEY6}
        {exists KEY6 KEY7 KEY7 KEY16}
        {touch KEY7 KEY16}
        {type KEY7}
        {type KEY16}
        {expire KEY7 1000}
        {expire KEY7 2000 NX}
        {expire KEY7 3000 XX}
        {expire KEY7 100 GT}
        {expire KEY7 100 LT}
        {ttl KEY7}
        {pexpire KEY7 5000000}
        {ttl KEY7}
        {expire KEY7 10 NX XX}
        {expire KEY7 10 GT LT}
        {expire KEY16 10}
        {persist KEY7}
        {persist KEY7}
        {ttl KEY7}
        {ttl KEY16}
        {pttl KEY16}
        {expiretime KEY7}
        {pexpiretime KEY16}
        {set KEY17 gone}
        {expire KEY17 -1}
        {exists KEY17}
        {rename KEY7 KEY18}
        {rename KEY7 KEY18}
        {rename KEY18 KEY18}
        {renamenx KEY18 KEY8}
        {renamenx KEY18 KEY19}
        {copy KEY19 KEY20}
        {copy KEY19 KEY20}
        {copy KEY19 KEY20 REPLACE}
        {copy KEY19 KEY19}
        {copy KEY16 KEY21}
        {mget KEY18 KEY19 KEY20 KEY21}
        {set KEY22 v EX 1000 KEEPTTL}
        {set KEY22 v NX XX}
        {set KEY22 v PX abc}
        {setex KEY22 0 v}
        {psetex KEY22 -5 v}
    }

    test {string and key commands reply the same inside EXEC as alone} {
        set plain [multi_run_plain [multi_keys $cmds p]]
        set inside [multi_run_exec [multi_keys $cmds m]]
        set diffs {}
        for {set i 0} {$i < [llength $cmds]} {incr i} {
            if {[lindex $plain $i] ne [lindex $inside $i]} {
                lappend diffs [list [lindex $cmds $i] plain [lindex $plain $i] exec [lindex $inside $i]]
            }
        }
        assert_equal {} $diffs
        llength $inside
    } [llength $cmds]

    test {the keys end the same inside EXEC as alone} {
        set out {}
        for {set i 1} {$i <= 22} {incr i} {
            set p [r get p:$i]
            set m [r get m:$i]
            if {$p ne $m || ([r ttl p:$i] > 0) != ([r ttl m:$i] > 0)} {
                lappend out [list $i $p $m]
            }
        }
        set out
    } {}
}

start_server {tags {"multi"}} {
    test {EXEC fails if a WATCHed key is modified by another client} {
        r set x 30
        r watch x
        set c [new_client]
        $c set x 40
        r multi
        r ping
        list [multi_exec_raw] [r get x]
    } {nil 40}

    test {EXEC works if the WATCHed key is not modified} {
        r set x 30
        r watch x
        r multi
        r ping
        r exec
    } PONG

    test {EXEC fails if a WATCHed key is modified by the same client} {
        r set x 30
        r watch x
        r set x 40
        r multi
        r set x 50
        list [multi_exec_raw] [r get x]
    } {nil 40}

    test {EXEC fails if a WATCHed key is deleted} {
        r set x 30
        r watch x
        [new_client] del x
        r multi
        r set x 1
        list [multi_exec_raw] [r exists x]
    } {nil 0}

    test {EXEC fails if a missing WATCHed key is created} {
        r del x
        r watch x
        [new_client] set x created
        r multi
        r ping
        list [multi_exec_raw] [r get x]
    } {nil created}

    test {EXEC works if a missing WATCHed key stays missing} {
        r del x
        r watch x
        r del x
        r multi
        r ping
        r exec
    } PONG

    test {EXEC fails when one of several WATCHed keys changed} {
        r mset w1 1 w2 2 w3 3
        r watch w1 w2
        r watch w3
        [new_client] set w3 changed
        r multi
        r ping
        multi_exec_raw
    } nil

    test {EXEC fails if a WATCHed key expires in the meantime} {
        r set x 1 PX 300
        r watch x
        wait_for_condition 100 50 {[[new_client] exists x] == 0}
        r multi
        r incr x
        list [multi_exec_raw] [r exists x]
    } {nil 0}

    test {WATCH of a key already expired does not fail EXEC} {
        r set x foo PX 1
        after 100
        r watch x
        r multi
        r ping
        r exec
    } PONG

    test {DEL of a WATCHed key already expired does not fail EXEC} {
        r set x foo PX 1
        after 100
        r watch x
        r del x
        r multi
        r ping
        r exec
    } PONG

    test {UNWATCH forgets the watched keys} {
        r set x 30
        r watch x
        r set x 40
        r unwatch
        r multi
        r ping
        r exec
    } PONG

    test {UNWATCH when nothing is watched} {
        r unwatch
    } OK

    test {EXEC forgets the watched keys} {
        r set x 30
        r watch x
        r multi
        r ping
        r exec
        r set x 40
        r multi
        r ping
        r exec
    } PONG

    test {DISCARD forgets the watched keys} {
        r set x 30
        r watch x
        r multi
        r ping
        r discard
        r set x 40
        r multi
        r ping
        r exec
    } PONG

    test {EXECABORT forgets the watched keys} {
        r set x 30
        r watch x
        r multi
        catch {r nosuchcommand}
        catch {r exec}
        r set x 40
        r multi
        r ping
        r exec
    } PONG

    test {a failed EXEC applies nothing and leaves MULTI} {
        r set x 1
        r set y 1
        r watch x
        [new_client] set x 2
        r multi
        r set y 100
        r incr x
        assert_equal nil [multi_exec_raw]
        list [r get x] [r get y] [r ping]
    } {2 1 PONG}

    test {WATCH is per database} {
        r select 9
        r set x db9
        r watch x
        r select 0
        r set x db0
        r multi
        r ping
        set ok [r exec]
        r select 9
        r watch x
        r select 0
        set c [new_client]
        $c select 9
        $c set x again
        r multi
        r ping
        list $ok [multi_exec_raw]
    } {PONG nil}

    test {FLUSHALL touches the WATCHed keys that existed} {
        r set x 30
        r watch x
        [new_client] flushall
        r multi
        r ping
        multi_exec_raw
    } nil

    test {WATCH inside MULTI keeps the earlier WATCH} {
        r set x 1
        r watch x
        r multi
        catch {r watch x}
        r ping
        [new_client] set x 2
        multi_exec_raw
    } nil

    test {a WATCHed key written by the transaction itself} {
        r set x 1
        r watch x
        r multi
        r incr x
        list [r exec] [r get x]
    } {2 2}

    test {RESET leaves MULTI and forgets the watched keys} {
        r set x 1
        r watch x
        r multi
        r set x 99
        assert_equal RESET [r reset]
        [new_client] set x 2
        r multi
        r ping
        list [r exec] [r get x]
    } {PONG 2}

    test {QUIT inside MULTI closes the connection} {
        set c [new_client]
        $c multi
        $c set quitkey 1
        $c quit
        list [$c is_closed] [r exists quitkey]
    } {1 0}

    test {WATCH of many keys, some named twice} {
        r mset a 1 b 2 c 3
        r watch a b c a b c missing
        r multi
        r mget a b c missing
        r exec
    } {{1 2 3 {}}}

    test {CLIENT LIST counts the queued commands} {
        set c [new_client]
        $c client setname inmulti
        $c multi
        $c set a 1
        $c get a
        set line {}
        foreach l [split [r client list] "\n"] {
            if {[string match {*name=inmulti*} $l]} { set line $l }
        }
        $c discard
        list [regexp {multi=2 } $line] [regexp {flags=x } $line] [regexp {multi=-1 } [r client info]]
    } {1 1 1}
}
