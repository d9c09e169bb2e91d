# scan.tcl -- SCAN: cursor format and parsing, COUNT, MATCH, TYPE, and the guarantee a
# client relies on: a full iteration returns every key present from its start to its end.

# Runs a full SCAN iteration with the given options; returns the keys (with any duplicates)
# and checks every cursor is a decimal integer.
proc scan_collect {args} {
    set cursor 0
    set keys {}
    set calls 0
    while 1 {
        set reply [r scan $cursor {*}$args]
        assert_equal [llength $reply] 2
        set cursor [lindex $reply 0]
        assert_match {[0-9]*} $cursor
        assert_true {[string is digit -strict $cursor]}
        lappend keys {*}[lindex $reply 1]
        if {$cursor eq "0"} break
        if {[incr calls] > 100000} { fail "SCAN never ended" }
    }
    return $keys
}

start_server {tags {"scan"}} {
    test {SCAN of an empty database} {
        r flushdb
        r scan 0
    } {0 {}}

    test {SCAN returns every key} {
        r flushdb
        for {set i 0} {$i < 1000} {incr i} {
            r set "key:$i" $i
        }
        set keys [scan_collect]
        list [llength [lsort -unique $keys]] [r dbsize]
    } {1000 1000}

    test {SCAN COUNT} {
        foreach count {1 5 100 1000 100000} {
            set keys [scan_collect COUNT $count]
            assert_equal [llength [lsort -unique $keys]] 1000
        }
    }

    test {SCAN COUNT bounds a page (a hint, but never far off)} {
        set reply [r scan 0 COUNT 10]
        assert_range [llength [lindex $reply 1]] 1 100
        assert_not_equal [lindex $reply 0] 0
    }

    test {SCAN MATCH} {
        r set other x
        list [llength [lsort -unique [scan_collect MATCH key:1*]]] \
            [llength [lsort -unique [scan_collect MATCH *9 COUNT 50]]] \
            [lsort -unique [scan_collect MATCH oth?r]] \
            [llength [lsort -unique [scan_collect MATCH *]]] \
            [scan_collect MATCH nomatch*]
    } {111 100 other 1001 {}}

    test {SCAN MATCH, COUNT and TYPE are case-insensitive and may repeat} {
        llength [lsort -unique [scan_collect match key:5* Count 7 MATCH key:1* type STRING]]
    } 111

    test {SCAN TYPE} {
        assert_equal [llength [lsort -unique [scan_collect TYPE string]]] 1001
        list [scan_collect TYPE list] [scan_collect TYPE hash COUNT 1000] [scan_collect TYPE nosuchtype]
    } {{} {} {}}

    test {SCAN of binary keys} {
        r flushdb
        r set "s\x00\r\n" a
        r set "\xff" b
        r set "" c
        lsort [scan_collect COUNT 1]
    } [lsort [list "s\x00\r\n" "\xff" ""]]

    test {SCAN MATCH of binary keys} {
        scan_collect MATCH "s\x00*"
    } [list "s\x00\r\n"]

    test {SCAN cursor parsing} {
        r flushdb
        r set k v
        foreach cursor {+0 00 ""} {
            assert_equal [r scan $cursor] {0 k}
        }
        foreach cursor {abc " 0" "0 " 0x 1.5 18446744073709551616 "1\r\n"} {
            assert_error {ERR invalid cursor} {r scan $cursor}
        }
    }

    test {SCAN option errors} {
        assert_error {ERR syntax error} {r scan 0 COUNT 0}
        assert_error {ERR syntax error} {r scan 0 COUNT -1}
        assert_error {ERR value is not an integer or out of range} {r scan 0 COUNT abc}
        assert_error {ERR value is not an integer or out of range} {r scan 0 COUNT 9223372036854775808}
        assert_error {ERR syntax error} {r scan 0 MATCH}
        assert_error {ERR syntax error} {r scan 0 COUNT}
        assert_error {ERR syntax error} {r scan 0 TYPE}
        assert_error {ERR syntax error} {r scan 0 foo bar}
        assert_error {ERR syntax error} {r scan 0 MATCH * foo}
        assert_error {ERR wrong number of arguments for 'scan' command} {r scan}
        assert_error {ERR invalid cursor} {r scan abc COUNT 0}
    }

    test {SCAN replies: a bulk cursor and an array, also under RESP3} {
        r flushdb
        r mset a 1 b 2
        set c [new_client]
        $c hello 3
        set reply [$c scan 0]
        set t [$c last_type]
        $c close
        list $t [lindex $reply 0] [lsort [lindex $reply 1]]
    } {array 0 {a b}}

    test {a key present for the whole iteration is returned, whatever else changes} {
        r flushdb
        for {set i 0} {$i < 500} {incr i} {
            r set "stay:$i" x
            r set "go:$i" x
        }
        set cursor 0
        set seen {}
        set round 0
        while 1 {
            set reply [r scan $cursor COUNT 20]
            set cursor [lindex $reply 0]
            foreach k [lindex $reply 1] { dict set seen $k 1 }
            # Churn between calls: keys come and go before and after the cursor.
            incr round
            r del "go:[expr {$round * 7 % 500}]" "go:[expr {$round * 13 % 500}]"
            r set "new:$round" x
            r set "a-new:$round" x
            r set "zz-new:$round" x
            if {$cursor eq "0"} break
        }
        set missing {}
        for {set i 0} {$i < 500} {incr i} {
            if {![dict exists $seen "stay:$i"]} { lappend missing "stay:$i" }
        }
        set missing
    } {}

    test {SCAN pages of a large database} {
        r flushdb
        for {set i 0} {$i < 3000} {incr i} {
            r set "big:[format %05d $i]" x
        }
        llength [lsort -unique [scan_collect COUNT 97]]
    } 3000

    # In key order with integer cursors, an iteration whose cursors the server still holds
    # returns no key twice (Redis may, when its table is resized).
    test {SCAN returns each key once when nothing is evicted} {
        set keys [scan_collect COUNT 13]
        list [llength $keys] [llength [lsort -unique $keys]]
    } {3000 3000} {basalt-only}

    test {SCAN with a cursor the server never issued still terminates} {
        set cursor 123456789
        set n 0
        while 1 {
            set reply [r scan $cursor COUNT 1000]
            set cursor [lindex $reply 0]
            if {$cursor eq "0"} break
            if {[incr n] > 100} { fail "no end" }
        }
        assert_range $n 0 100
    }

    test {SCAN with a cursor from another database} {
        r select 9
        r flushdb
        for {set i 0} {$i < 50} {incr i} { r set "db9:$i" x }
        set reply [r scan 0 COUNT 10]
        set cursor [lindex $reply 0]
        r select 10
        r flushdb
        r set "db10" x
        # Redis scans db 10 from that bucket; Basalt resumes at the key prefix the cursor
        # carries. Either way the reply is well formed and the iteration ends.
        set reply [r scan $cursor COUNT 1000]
        r select 9
        lindex $reply 0
    } 0

    test {SCAN in another database sees only its keys} {
        r select 9
        set keys [scan_collect]
        llength [lsort -unique $keys]
    } 50
}
