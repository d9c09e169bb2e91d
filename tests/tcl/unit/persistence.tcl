# persistence.tcl -- what the string and key commands wrote survives a restart: values,
# TTLs (still counting down), counters, binary keys, several databases. Basalt makes every
# acknowledged write durable, so it also survives kill -9; redis-server here runs without
# persistence, so the Redis runs SAVE before a graceful restart.

proc persistence_save {} {
    if {[server_kind] eq "redis"} { r save }
}

start_server {tags {"persistence"}} {
    test {strings, TTLs and counters survive a restart} {
        r flushall
        r set plain value
        r set "bin\x00\r\n" "v\x00\r\n\xff"
        r set withttl v EX 1000
        r set "" empty-key
        r incrby counter 41
        r incr counter
        r incrbyfloat fcounter 2.5
        r append appended abc
        r append appended def
        r setrange ranged 3 xyz
        r mset m1 a m2 b
        r select 9
        r set indb9 nine
        r select 0
        persistence_save
        restart_server
        set out [list [r get plain] [r get "bin\x00\r\n"] [r get ""] [r get counter] \
            [r get fcounter] [r get appended] [r get ranged] [r mget m1 m2]]
        assert_range [r ttl withttl] 990 1000
        assert_equal [r ttl plain] -1
        r select 9
        lappend out [r get indb9]
        r select 0
        set out
    } [list value "v\x00\r\n\xff" empty-key 42 2.5 abcdef "\x00\x00\x00xyz" {a b} nine]

    test {deletes, renames and expiries survive a restart} {
        r flushall
        r mset gone 1 src 2 kept 3
        r del gone
        r rename src dst
        r pexpire kept 300
        r set persisted v EX 1000
        r persist persisted
        persistence_save
        restart_server
        wait_for_condition 100 50 {[r exists kept] == 0}
        list [r exists gone src] [r get dst] [r ttl persisted] [r dbsize] [lsort [r keys *]]
    } {0 2 -1 2 {dst persisted}}

    test {a key expires after a restart when its time comes} {
        r set soon v PX 1500
        persistence_save
        restart_server
        set first [r exists soon]
        wait_for_condition 100 50 {[r exists soon] == 0}
        set first
    } 1

    test {every acknowledged write survives kill -9} {
        r flushall
        for {set i 0} {$i < 500} {incr i} {
            r set "k:$i" $i
        }
        r incrby total 500
        r set ttlkey v EX 1000
        restart_server -signal KILL
        set bad 0
        for {set i 0} {$i < 500} {incr i} {
            if {[r get "k:$i"] ne $i} { incr bad }
        }
        list $bad [r get total] [expr {[r ttl ttlkey] > 900}] [r dbsize]
    } {0 500 1 502} {basalt-only}

    # Basalt's cursors carry a key prefix, so one the restarted server no longer knows
    # resumes at or before where it was (Redis gives no guarantee across a restart).
    test {a SCAN cursor from before a restart still completes the iteration} {
        r flushall
        for {set i 0} {$i < 300} {incr i} {
            r set "sc:[format %03d $i]" x
        }
        lassign [r scan 0 COUNT 100] cursor keys
        set seen {}
        foreach k $keys { dict set seen $k 1 }
        persistence_save
        restart_server
        while {$cursor ne "0"} {
            lassign [r scan $cursor COUNT 100] cursor keys
            foreach k $keys { dict set seen $k 1 }
        }
        dict size $seen
    } 300 {basalt-only}
}
