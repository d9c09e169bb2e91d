# multi.tcl -- MULTI, EXEC, DISCARD, WATCH, UNWATCH: queueing, EXECABORT, per-command
# runtime errors, WATCH of changed, deleted, created and expiring keys, connection commands
# inside a transaction, and every string and key command answering inside EXEC exactly as
# it does alone. Then the keyspace commands (DBSIZE, KEYS, SCAN, RANDOMKEY, FLUSHDB,
# FLUSHALL), LCS and MEMORY USAGE inside a transaction, seeing its earlier writes and
# applied in order; connection commands (SELECT, HELLO, CLIENT SETNAME) taking effect at
# their place among the data commands; a hot key incremented by many transactions at once
# ending exact; and (Basalt only) every data command of the command table being accepted
# inside MULTI. The concurrency checks (write skew, bank, crash) are in multi_stress.tcl.

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

# Reads one reply from the block's connection as its type lines, payloads dropped: "$3"
# for a bulk of 3 bytes, "$-1" or "_" for nulls, "%7" for a map, "-ERR ..." for an error,
# and the elements of aggregates after their header, flattened.
proc multi_shape {} {
    set line [r read_line]
    set out [list $line]
    set n [string range $line 1 end]
    switch -- [string index $line 0] {
        $ - = - ! {
            if {$n >= 0} { r read_bytes [expr {$n + 2}] }
        }
        * - ~ - > {
            for {set i 0} {$i < $n} {incr i} { lappend out {*}[multi_shape] }
        }
        % - | {
            for {set i 0} {$i < 2 * $n} {incr i} { lappend out {*}[multi_shape] }
        }
    }
    return $out
}

# Sends EXEC and returns its reply as a list with the shape of each command's reply.
proc multi_exec_shapes {} {
    r write "*1\r\n\$4\r\nEXEC\r\n"
    set head [r read_line]
    if {[string index $head 0] ne "*"} { error "EXEC replied '$head'" }
    set out {}
    for {set i 0} {$i < [string range $head 1 end]} {incr i} {
        lappend out [multi_shape]
    }
    return $out
}

start_server {tags {"multi"}} {
    test {DBSIZE, KEYS and SCAN inside MULTI see the writes queued before them} {
        r flushall
        r mset a 1 b 2
        r multi
        r dbsize
        r set c 3
        r del a
        r dbsize
        r keys *
        r scan 0 count 100
        r exists a b c
        set res [r exec]
        list [lindex $res 0] [lindex $res 3] [lsort [lindex $res 4]] \
            [lindex $res 5 0] [lsort [lindex $res 5 1]] [lindex $res 6]
    } {2 2 {b c} 0 {b c} 2}

    test {KEYS and SCAN MATCH inside MULTI filter as they do alone} {
        r flushall
        r mset user:1 a user:2 b item:1 c
        r multi
        r keys user:*
        r keys *:1
        r keys nomatch*
        r scan 0 match item* count 100
        r scan 0 type list
        set res [r exec]
        list [lsort [lindex $res 0]] [lsort [lindex $res 1]] [lindex $res 2] \
            [lindex $res 3] [lindex $res 4]
    } {{user:1 user:2} {item:1 user:1} {} {0 item:1} {0 {}}}

    test {SCAN argument errors inside MULTI are per command} {
        r multi
        r scan notacursor
        r scan 0 count 0
        r scan 0 count x
        r scan 0 badopt
        r ping
        multi_exec_raw
    } {{!ERR invalid cursor} {!ERR syntax error} {!ERR value is not an integer or out of range} {!ERR syntax error} PONG}

    test {a SCAN cursor from inside MULTI continues the iteration outside} {
        r flushall
        for {set i 0} {$i < 30} {incr i} { r set "s:$i" $i }
        r multi
        r scan 0 count 7
        set first [lindex [r exec] 0]
        set seen [lindex $first 1]
        set cursor [lindex $first 0]
        while {$cursor ne "0"} {
            lassign [r scan $cursor count 7] cursor keys
            lappend seen {*}$keys
        }
        llength [lsort -unique $seen]
    } 30

    test {RANDOMKEY inside MULTI: null on an empty database, else a live key} {
        r flushall
        r multi
        r randomkey
        r set only 1
        r randomkey
        r del only
        r randomkey
        set res [r exec]
        for {set i 0} {$i < 100} {incr i} { r set "rk:$i" $i }
        set picks {}
        for {set i 0} {$i < 20} {incr i} {
            r multi
            r randomkey
            r del rk:0
            lappend picks [lindex [r exec] 0]
            r set rk:0 0
        }
        set bad {}
        foreach p $picks {
            if {![string match rk:* $p]} { lappend bad $p }
        }
        list $res $bad
    } {{{} OK only 1 {}} {}}

    test {FLUSHDB inside MULTI applies in order with the other commands} {
        r flushall
        r mset a 1 b 2
        r multi
        r set c 3
        r flushdb
        r get a
        r set d 4
        r dbsize
        set res [r exec]
        list $res [r exists a b c d]
    } {{OK OK {} OK 1} 1}

    test {FLUSHALL inside MULTI empties every database, in order} {
        r flushall
        r select 9
        r set x nine
        r select 0
        r set y zero
        r multi
        r set before 1
        r flushall
        r select 9
        r dbsize
        r set after 1
        r select 0
        r dbsize
        set res [r exec]
        set out [list $res [r keys *]]
        r select 9
        lappend out [r keys *]
        r select 0
        set out
    } {{OK OK OK 0 OK OK 0} {} after}

    test {FLUSHDB of many keys inside MULTI, and its argument errors} {
        r flushall
        for {set i 0} {$i < 50} {incr i} {
            set args {}
            for {set j 0} {$j < 100} {incr j} { lappend args "f:$i:$j" v }
            r mset {*}$args
        }
        r multi
        r dbsize
        r keys f:49:*
        r flushdb badarg
        r flushdb async
        r dbsize
        set res [multi_exec_raw]
        list [lindex $res 0] [llength [lindex $res 1]] [lrange $res 2 end] [r dbsize]
    } {5000 100 {{!ERR syntax error} OK 0} 0}

    test {WATCH and FLUSHDB inside MULTI} {
        r flushall
        r set w 1
        r watch w
        [new_client] set w 2
        r multi
        r flushdb
        set res [list [r exec] [r get w]]
        r watch w
        r multi
        r flushdb
        lappend res [r exec] [r exists w]
    } {{} 2 OK 0}

    test {LCS inside MULTI sees the transaction's writes} {
        r flushall
        r set k1 ohmytext
        r multi
        r set k2 mynewtext
        r lcs k1 k2
        r lcs k1 k2 len
        r lcs k1 k2 idx minmatchlen 4 withmatchlen
        r lcs k1 nokey
        r lcs k1 k2 len idx
        r lcs k1 k2 badopt
        set res [multi_exec_raw]
        lrange $res 1 end
    } {mytext 6 {matches {{{4 7} {5 8} 4}} len 6} {} {!ERR If you want both the length and indexes, please just use IDX.} {!ERR syntax error}}

    test {MEMORY USAGE inside MULTI} {
        r flushall
        r multi
        r memory usage m
        r set m [string repeat x 100]
        r memory usage m
        r memory usage m samples 0
        r memory usage m samples -1
        r memory usage m badopt
        set res [multi_exec_raw]
        list [lindex $res 0] [string is integer -strict [lindex $res 2]] \
            [expr {[lindex $res 2] >= 100}] [expr {[lindex $res 3] == [lindex $res 2]}] \
            [lrange $res 4 end]
    } {{} 1 1 1 {{!ERR syntax error} {!ERR syntax error}}}
}

start_server {tags {"multi"}} {
    test {SELECT inside MULTI takes effect for the commands after it} {
        r flushall
        r multi
        r set a 1
        r select 1
        r set a 2
        r select 99
        r get a
        r select 0
        r get a
        set res [multi_exec_raw]
        set out [list $res [r get a]]
        r select 1
        lappend out [r get a]
        r select 0
        set out
    } {{OK OK OK {!ERR DB index is out of range} 2 OK 1} 1 2}

    test {SELECT inside MULTI stays selected after EXEC} {
        r select 0
        r flushall
        r multi
        r select 5
        r set s5 v
        r exec
        set out [r get s5]
        r select 0
        lappend out [r exists s5]
    } {v 0}

    test {connection commands reply at their place among the data commands} {
        r del a
        r multi
        r set a 1
        r ping
        r get a
        r echo x
        r client setname first
        r incr a
        r client getname
        r client setname second
        r client getname
        r exec
    } {OK PONG 1 x OK 2 first OK second}

    test {a failed HELLO inside MULTI leaves RESP2 for the commands after it} {
        r del nokey
        r multi
        r get nokey
        r hello 3 auth nosuchuser nopass
        r get nokey
        r lcs nokey nokey idx
        set shapes [multi_exec_shapes]
        list [lindex $shapes 0 0] [string match {-WRONGPASS*} [lindex $shapes 1 0]] \
            [lindex $shapes 2 0] [lindex $shapes 3 0] [r ping]
    } {{$-1} 1 {$-1} *4 PONG}

    test {HELLO 3 inside MULTI makes the commands after it reply in RESP3} {
        r del nokey
        r multi
        r get nokey
        r hello 3
        r get nokey
        r lcs nokey nokey idx
        r hello 2
        r get nokey
        set shapes [multi_exec_shapes]
        list [lindex $shapes 0 0] [lindex $shapes 1 0] [lindex $shapes 2 0] \
            [lindex $shapes 3 0] [lindex $shapes 4 0] [lindex $shapes 5 0] [r ping]
    } {{$-1} %7 _ %2 *14 {$-1} PONG}

    test {a failed HELLO 2 inside MULTI keeps RESP3 for the commands after it} {
        r hello 3
        r multi
        r hello 2 setname "bad name"
        r get nokey
        set shapes [multi_exec_shapes]
        r hello 2
        list [string match {-ERR Client names*} [lindex $shapes 0 0]] [lindex $shapes 1 0]
    } {1 _}
}

# Increments the key hot from n deferred connections at once, rounds times each, every
# increment a MULTI/INCR/EXEC; returns the final value and the first few EXEC replies that
# were not a one-element array (errors included).
proc multi_hot_key {n rounds} {
    r del hot
    set clients {}
    for {set i 0} {$i < $n} {incr i} { lappend clients [deferred_client] }
    set bad {}
    for {set round 0} {$round < $rounds} {incr round} {
        foreach c $clients {
            $c multi
            $c incr hot
            $c exec
        }
        foreach c $clients {
            $c read
            $c read
            if {[catch {$c read} res] || [llength $res] != 1} { lappend bad $res }
        }
    }
    foreach c $clients { $c close }
    list [r get hot] [lrange $bad 0 2]
}

start_server {tags {"multi"}} {
    test {a hot key incremented by 20 connections in transactions ends exact} {
        multi_hot_key 20 50
    } {1000 {}}

    # Each of the 150 transactions of a round conflicts with every one that commits before
    # it, so the last ones meet far more than a hundred conflicts in a row: EXEC must keep
    # going however many it meets.
    test {150 transactions at once on one key all commit} {
        multi_hot_key 150 4
    } {600 {}}
}

start_server {tags {"multi" "basalt-only"}} {
    # Basalt only: it checks Basalt's own command table, which is not Redis's.
    test {every data command of the command table runs inside MULTI} {
        set samples {
            get {get k} set {set k v} setnx {setnx k v} setex {setex k 10 v}
            psetex {psetex k 10000 v} getset {getset k v} getdel {getdel k2}
            getex {getex k} mget {mget k} mset {mset k v} msetnx {msetnx k9 v}
            append {append k v} strlen {strlen k} getrange {getrange k 0 1}
            substr {substr k 0 1} setrange {setrange k 0 v} incr {incr n} decr {decr n}
            incrby {incrby n 1} decrby {decrby n 1} incrbyfloat {incrbyfloat n 1}
            lcs {lcs k k} del {del k3} unlink {unlink k3} exists {exists k} type {type k}
            touch {touch k} expire {expire k 100} pexpire {pexpire k 100000}
            expireat {expireat k 99999999999} pexpireat {pexpireat k 99999999999000}
            expiretime {expiretime k} pexpiretime {pexpiretime k} ttl {ttl k} pttl {pttl k}
            persist {persist k} keys {keys *} scan {scan 0} randomkey {randomkey}
            rename {rename k k4} renamenx {renamenx k4 k} copy {copy k k5}
            dbsize {dbsize} memory|usage {memory usage k} flushdb {flushdb}
            flushall {flushall}
        }
        set data {}
        foreach info [r command info {*}[r command list]] {
            set entries [list $info]
            foreach sub [lindex $info 9] { lappend entries $sub }
            foreach e $entries {
                set flags [lindex $e 2]
                if {"write" in $flags || "readonly" in $flags} { lappend data [lindex $e 0] }
            }
        }
        set missing {}
        foreach name $data {
            if {![dict exists $samples $name]} { lappend missing $name }
        }
        assert_equal {} $missing "data commands without a sample here"
        r flushall
        r set k hello
        r set n 1
        r multi
        foreach name [lsort $data] {
            # The flushes last: the others then have keys to work on.
            if {$name ni {flushdb flushall}} { r {*}[dict get $samples $name] }
        }
        r flushdb
        r flushall
        set refused {}
        set shapes [multi_exec_shapes]
        foreach shape $shapes {
            foreach line $shape {
                if {[string match {-*} $line]} { lappend refused $line }
            }
        }
        assert_range [llength $data] 40 1000
        list [expr {[llength $shapes] == [llength $data]}] $refused [r dbsize]
    } {1 {} 0}
}
