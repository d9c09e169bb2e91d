# multikey.tcl -- commands over several keys at once: MSET, MSETNX, MGET, DEL/UNLINK,
# EXISTS, RENAME, COPY. Redis runs each atomically; so does Basalt, in one Raft entry when
# the keys share a Region and as one transaction when they span Regions.

# A Basalt config whose Regions split at a few KiB, so one test can span Regions.
proc multikey_small_regions_conf {} {
    set path [file join [srvlib::tmp_base] "basalt-multikey-[pid].toml"]
    set f [open $path w]
    puts $f {[raftstore]
split-region-check-tick-interval = "100ms"
region-split-check-diff = "1KiB"

[coprocessor]
region-split-size = "4KiB"
region-max-size = "6KiB"}
    close $f
    return $path
}

# The number of distinct keys a full SCAN returns.
proc multikey_scan_count {} {
    set cursor 0
    set seen {}
    while 1 {
        lassign [r scan $cursor COUNT 7] cursor keys
        foreach k $keys { dict set seen $k 1 }
        if {$cursor eq "0"} break
    }
    dict size $seen
}

start_server {tags {"multikey"}} {
    test {MSET then MGET of many keys} {
        set args {}
        for {set i 0} {$i < 200} {incr i} { lappend args "mk:$i" "v$i" }
        assert_equal [r mset {*}$args] OK
        set keys {}
        for {set i 0} {$i < 200} {incr i} { lappend keys "mk:$i" }
        set vals [r mget {*}$keys]
        list [llength $vals] [lindex $vals 0] [lindex $vals 199]
    } {200 v0 v199}

    test {MSETNX is all or nothing} {
        r del a b c
        r set b old
        assert_equal [r msetnx a 1 b 2 c 3] 0
        assert_equal [r mget a b c] {{} old {}}
        r del b
        assert_equal [r msetnx a 1 b 2 c 3] 1
        r mget a b c
    } {1 2 3}

    test {MSETNX counts an expired key as missing} {
        r psetex gone 50 x
        wait_for_condition 100 50 {[r exists gone] == 0}
        r msetnx gone 1 fresh 2
    } 1

    test {DEL and EXISTS of many keys} {
        set keys {}
        for {set i 0} {$i < 200} {incr i} { lappend keys "mk:$i" }
        assert_equal [r exists {*}$keys nokey] 200
        assert_equal [r del {*}$keys nokey {*}$keys] 200
        r exists {*}$keys
    } 0

    test {MSET of binary keys and values} {
        r mset "m\x00" "a\r\n" "m\x00\x00" "b\x00"
        r mget "m\x00" "m\x00\x00"
    } [list "a\r\n" "b\x00"]

    test {pipelined MSETs from one connection apply in order} {
        set writer [deferred_client]
        for {set i 1} {$i <= 300} {incr i} {
            $writer mset oa $i ob $i
        }
        for {set i 1} {$i <= 300} {incr i} { $writer read }
        $writer close
        r mget oa ob
    } {300 300}

    test {a reader never sees half of an MSET} {
        r mset pa 0 pb 0
        set writer [deferred_client]
        for {set i 1} {$i <= 300} {incr i} {
            $writer mset pa $i pb $i
        }
        set torn 0
        for {set i 0} {$i < 300} {incr i} {
            lassign [r mget pa pb] va vb
            if {$va ne $vb} { incr torn }
        }
        for {set i 1} {$i <= 300} {incr i} { $writer read }
        $writer close
        set torn
    } 0

    test {concurrent RENAMEs do not lose or duplicate the value} {
        r del ra rb
        r set ra token
        set clients {}
        for {set i 0} {$i < 4} {incr i} { lappend clients [deferred_client] }
        foreach c $clients {
            for {set j 0} {$j < 50} {incr j} {
                $c rename ra rb
                $c rename rb ra
            }
        }
        foreach c $clients {
            for {set j 0} {$j < 100} {incr j} { catch {$c read} }
            $c close
        }
        # Where the value ends depends on how the clients interleave; there is one.
        list [r exists ra rb] [lsort [r mget ra rb]]
    } {1 {{} token}}
}

# Regions of a few KiB: multi-key commands over keys in different Regions run as one
# transaction, so they stay atomic (and MGET, EXISTS snapshot-consistent). Basalt only
# (Redis has no Regions).
set multikey_conf [multikey_small_regions_conf]
start_server [list tags {multikey basalt-only} args [list --config $multikey_conf]] {
    test {keys spread over several Regions} {
        set value [string repeat x 200]
        for {set i 0} {$i < 400} {incr i} {
            r set "sp:[format %04d $i]" $value
        }
        # 80 KB of values in Regions of 4 KiB: the first and the last key end up apart.
        wait_for_condition 300 100 {
            [regexp {regions:(\d+)} [r info basalt] -> n] && $n >= 4
        }
        list [r get sp:0000] [r dbsize]
    } [list [string repeat x 200] 400]

    test {multi-key commands across Regions work, atomically} {
        set out {}
        lappend out [r mset sp:0000 a sp:0399 b] [r mget sp:0000 sp:0399]
        lappend out [r msetnx new:a a sp:0399 b] [r exists new:a]
        lappend out [r msetnx new:a a zzz:b b] [r mget new:a zzz:b]
        lappend out [r exists sp:0000 sp:0399 sp:0000 nokey] [r touch sp:0000 sp:0399]
        lappend out [r rename sp:0000 zzz:moved] [r get zzz:moved] [r exists sp:0000]
        lappend out [r renamenx sp:0399 zzz:moved] [r renamenx sp:0399 aaa:moved]
        lappend out [r copy aaa:moved zzz:copy] [r copy aaa:moved zzz:copy]
        lappend out [r del zzz:moved zzz:copy aaa:moved nokey zzz:moved] [r unlink new:a zzz:b]
        catch {r rename sp:0000 zzz:x} e
        lappend out $e
    } {OK {a b} 0 0 1 {a b} 3 2 OK a 0 0 1 1 0 3 2 {ERR no such key}}

    test {no CROSSREGION error any more} {
        r mset sp:0001 1 sp:0398 2
        set e ok
        foreach cmd {{del sp:0001 sp:0398} {mset sp:0001 a sp:0398 b} {rename sp:0001 zzz:r}
                     {copy zzz:r sp:0002 REPLACE} {msetnx sp:0001 a sp:0398 b}} {
            if {[catch {r {*}$cmd} err] && [string match "*CROSSREGION*" $err]} { set e $err }
        }
        set e
    } ok

    test {reads across Regions work: MGET, EXISTS, TOUCH, KEYS, SCAN, DBSIZE} {
        r mset sp:0000 v0 sp:0399 v399
        list [r mget sp:0000 sp:0399] [r exists sp:0000 sp:0399 sp:0000 nokey] \
            [r touch sp:0000 sp:0399] [llength [r keys sp:*]] [expr {[r dbsize] > 390}] \
            [expr {[multikey_scan_count] == [r dbsize]}]
    } {{v0 v399} 3 2 399 1 1}

    test {a reader never sees half of a cross-Region MSET} {
        r mset sp:0003 0 sp:0397 0
        set writer [deferred_client]
        for {set i 1} {$i <= 200} {incr i} {
            $writer mset sp:0003 $i sp:0397 $i
        }
        set torn 0
        for {set i 0} {$i < 200} {incr i} {
            lassign [r mget sp:0003 sp:0397] va vb
            if {$va ne $vb} { incr torn }
            if {[r exists sp:0003 sp:0397] != 2} { incr torn }
        }
        for {set i 1} {$i <= 200} {incr i} { $writer read }
        $writer close
        list $torn [r mget sp:0003 sp:0397]
    } {0 {200 200}}

    test {multi-key writes within one Region still work} {
        list [r del sp:0100 sp:0101] [r mset sp:0102 a sp:0103 b] [r mget sp:0102 sp:0103]
    } {2 OK {a b}}
}
file delete $multikey_conf
