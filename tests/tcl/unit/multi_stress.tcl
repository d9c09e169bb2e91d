# multi_stress.tcl -- MULTI/EXEC under concurrency: no write skew, WATCH-guarded transfers
# that never create or lose money while a reader sums every balance in one transaction,
# and (Basalt only) all-or-nothing transactions across a kill -9.
#
# Concurrency comes from deferred connections driven in lock step: every connection sends
# its next step, then every reply is read, so the server runs the steps of all connections
# at once. Loops are bounded by a count or a wall-clock budget; nothing asserts on timing.

# A Basalt config whose Regions split at a few KiB (as multikey.tcl's), so that one
# transaction spans Regions and commits in two phases.
proc multi_stress_small_regions_conf {} {
    set path [file join [srvlib::tmp_base] "basalt-multi-stress-[pid].toml"]
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

# Sends a whole transaction (a list of commands) on deferred connection c.
proc multi_stress_send_txn {c cmds} {
    $c multi
    foreach cmd $cmds { $c {*}$cmd }
    $c exec
}

# Reads the replies of a transaction of n commands sent with multi_stress_send_txn; returns
# the EXEC reply ("" when WATCH failed), or raises its error.
proc multi_stress_read_txn {c n} {
    $c read
    for {set i 0} {$i < $n} {incr i} { $c read }
    $c read
}

start_server {tags {"multi" "slow"}} {
    test {no write skew: two transactions that each read what the other writes} {
        # Each round: a and b absent; A reads a and writes b, B reads b and writes a, at
        # the same time. Serializable: whichever runs second sees the other's write, so
        # they can never both read nil (snapshot isolation would allow it).
        set ca [deferred_client]
        set cb [deferred_client]
        set skew 0
        set both_ran 0
        for {set round 0} {$round < 300} {incr round} {
            r del a b
            multi_stress_send_txn $ca {{get a} {set b 1}}
            multi_stress_send_txn $cb {{get b} {set a 1}}
            set ra [multi_stress_read_txn $ca 2]
            set rb [multi_stress_read_txn $cb 2]
            if {[lindex $ra 0] eq "" && [lindex $rb 0] eq ""} { incr skew }
            if {[lindex $ra 1] eq "OK" && [lindex $rb 1] eq "OK"} { incr both_ran }
        }
        list $skew $both_ran [r exists a b]
    } {0 300 2}

    test {no write skew: the invariant "at most one of a, b is set" holds} {
        # A sets a only when b is unset, B sets b only when a is unset: each reads the
        # other's key and writes its own in one MULTI, and undoes its write afterwards if
        # the read said the other key was set. Done serially, at most one is ever set.
        set ca [deferred_client]
        set cb [deferred_client]
        set broken 0
        for {set round 0} {$round < 200} {incr round} {
            r del a b
            multi_stress_send_txn $ca {{get b} {setnx a A}}
            multi_stress_send_txn $cb {{get a} {setnx b B}}
            set ra [multi_stress_read_txn $ca 2]
            set rb [multi_stress_read_txn $cb 2]
            # Each transaction saw the other key unset at its serialization point: then it
            # keeps its write, otherwise it takes it back.
            if {[lindex $ra 0] ne ""} { r del a }
            if {[lindex $rb 0] ne ""} { r del b }
            if {[r exists a b] > 1} { incr broken }
        }
        set broken
    } 0

    test {bank: WATCH/MULTI/EXEC transfers keep the total while a reader sums in MULTI} {
        set naccounts 10
        set initial 1000
        set total [expr {$naccounts * $initial}]
        set keys {}
        for {set i 0} {$i < $naccounts} {incr i} {
            lappend keys "acct:$i"
            r set "acct:$i" $initial
        }
        set nclients 8
        set clients {}
        for {set i 0} {$i < $nclients} {incr i} { lappend clients [deferred_client] }
        set reader [deferred_client]
        set committed 0
        set aborted 0
        set sums 0
        set bad_sum 0
        set negative 0
        set deadline [expr {[clock milliseconds] + 10000}]
        expr {srand(42)}
        while {[clock milliseconds] < $deadline} {
            # Step 1: each client picks two accounts and watches them; the reader sums.
            set plan {}
            foreach c $clients {
                set from [expr {int(rand() * $naccounts)}]
                set to [expr {($from + 1 + int(rand() * ($naccounts - 1))) % $naccounts}]
                lappend plan [list "acct:$from" "acct:$to" [expr {1 + int(rand() * 50)}]]
                $c watch "acct:$from" "acct:$to"
            }
            multi_stress_send_txn $reader [list [concat mget $keys]]
            foreach c $clients { $c read }
            set vals [lindex [multi_stress_read_txn $reader 1] 0]
            incr sums
            set sum 0
            foreach v $vals {
                incr sum $v
                if {$v < 0} { incr negative }
            }
            if {$sum != $total} { incr bad_sum }
            # Step 2: read the watched balances.
            foreach c $clients p $plan { $c mget [lindex $p 0] [lindex $p 1] }
            set balances {}
            foreach c $clients { lappend balances [$c read] }
            # Step 3: transfer when the source can pay, all clients at once.
            set sent {}
            foreach c $clients p $plan b $balances {
                lassign $p from to amount
                if {[lindex $b 0] >= $amount} {
                    multi_stress_send_txn $c [list [list decrby $from $amount] \
                                                  [list incrby $to $amount]]
                    lappend sent 1
                } else {
                    $c unwatch
                    lappend sent 0
                }
            }
            foreach c $clients s $sent {
                if {$s} {
                    set res [multi_stress_read_txn $c 2]
                    if {$res eq ""} { incr aborted } else { incr committed }
                } else {
                    $c read
                }
            }
        }
        set final 0
        foreach v [r mget {*}$keys] {
            incr final $v
            if {$v < 0} { incr negative }
        }
        if {$::suite::opt(verbose)} {
            puts "    bank: $committed transfers committed, $aborted aborted by WATCH, $sums sums"
        }
        assert_equal 0 $bad_sum "sums that differed from the total"
        assert_equal 0 $negative "negative balances"
        assert_equal $total $final
        assert_range $committed 100 1000000000
    }
}

# Crash: kill -9 in the middle of a transaction load (keys spread over Regions, so most
# transactions commit in two phases and a crash can leave their locks behind). After the
# restart every transaction is all there or not at all, every acknowledged one is there,
# and the leftover locks are resolved by the readers. Basalt only (redis-server here keeps
# nothing across a kill).
set multi_stress_conf [multi_stress_small_regions_conf]
start_server [list tags {multi slow basalt-only} args [list --config $multi_stress_conf]] {
    test {every transaction is all or nothing across kill -9} {
        # Spread keys so the Regions split: the transactions below span several.
        set filler [string repeat f 200]
        for {set i 0} {$i < 300} {incr i} { r set "fill:[format %04d $i]" $filler }
        wait_for_condition 300 100 {
            [regexp {regions:(\d+)} [r info basalt] -> n] && $n >= 3
        }
        set nclients 16
        set per_client 40
        set conns {}
        for {set i 0} {$i < $nclients} {incr i} {
            # Not a block client: it stays open across the restart, so the replies that
            # reached it before the kill can still be read.
            lappend conns [resp::connect [srv host] [srv port] -defer 1]
        }
        # t:<c>:<j> writes three keys far apart (first, middle and last Regions).
        set cids {}
        for {set i 0} {$i < $nclients} {incr i} { lappend cids $i }
        foreach c $conns cid $cids {
            for {set j 0} {$j < $per_client} {incr j} {
                set v "$cid-$j"
                multi_stress_send_txn $c [list [list set "a:$cid:$j" $v] \
                                              [list set "fill:0150:$cid:$j" $v] \
                                              [list set "z:$cid:$j" $v]]
            }
        }
        # Some are acknowledged, then the crash.
        set acked {}
        foreach c $conns cid $cids {
            for {set j 0} {$j < 5} {incr j} {
                set res [multi_stress_read_txn $c 3]
                if {$res eq {OK OK OK}} { lappend acked "$cid:$j" }
            }
        }
        set info [r info basalt]
        restart_server -signal KILL
        foreach c $conns cid $cids {
            for {set j 5} {$j < $per_client} {incr j} {
                if {[catch {multi_stress_read_txn $c 3} res]} break
                if {$res eq {OK OK OK}} { lappend acked "$cid:$j" }
            }
            catch {$c close}
        }
        set torn {}
        set seen 0
        foreach cid $cids {
            for {set j 0} {$j < $per_client} {incr j} {
                set vals [r mget "a:$cid:$j" "fill:0150:$cid:$j" "z:$cid:$j"]
                set v "$cid-$j"
                if {$vals eq [list $v $v $v]} {
                    incr seen
                } elseif {$vals ne {{} {} {}}} {
                    lappend torn [list $cid $j $vals]
                }
            }
        }
        set lost {}
        foreach a $acked {
            lassign [split $a :] cid j
            if {[r get "a:$cid:$j"] ne "$cid-$j"} { lappend lost $a }
        }
        if {$::suite::opt(verbose)} {
            puts "    crash: [llength $acked] acknowledged, $seen visible of [expr {$nclients * $per_client}]"
            regexp {txn_committed:(\d+)} $info -> committed
            regexp {txn_one_pc:(\d+)} $info -> one_pc
            puts "    before the kill: $committed committed, $one_pc of them in one phase"
        }
        assert_equal {} $torn "transactions partly visible"
        assert_equal {} $lost "acknowledged transactions lost"
        assert_range $seen [llength $acked] [expr {$nclients * $per_client}]
    }
}
file delete $multi_stress_conf
