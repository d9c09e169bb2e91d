# bigvalue.tcl -- values far above the usual sizes: a 100 MB string through SET, GET,
# STRLEN, GETRANGE, APPEND, SETRANGE, GETSET, GETDEL, COPY and a restart, and the
# proto-max-bulk-len limit of the commands that grow a value. Reads and writes of 100 MB
# take a while on a slow machine: the connection's timeout is raised for them.

start_server {tags {"bigvalue"}} {
    set mb100 [expr {100 * 1024 * 1024}]
    set chunk "0123456789abcdef\x00\r\n\xff"
    set bigval [string repeat $chunk [expr {$mb100 / [string length $chunk]}]]
    append bigval [string repeat z [expr {$mb100 - [string length $bigval]}]]
    r timeout 120000

    test {SET and GET of a 100 MB value} {
        assert_equal [r set big $bigval] OK
        set got [r get big]
        list [string length $got] [expr {$got eq $bigval}]
    } [list $mb100 1]

    test {STRLEN and GETRANGE of a 100 MB value} {
        list [r strlen big] [r getrange big 0 19] [r getrange big -3 -1] \
            [string length [r getrange big 1000 1999]]
    } [list $mb100 $chunk [string range $bigval end-2 end] 1000]

    test {APPEND to a 100 MB value} {
        list [r append big "tail"] [r getrange big -8 -1]
    } [list [expr {$mb100 + 4}] "[string range $bigval end-3 end]tail"]

    test {SETRANGE inside a 100 MB value} {
        list [r setrange big 50000000 HELLO] [r getrange big 50000000 50000004] [r strlen big]
    } [list [expr {$mb100 + 4}] HELLO [expr {$mb100 + 4}]]

    test {MEMORY USAGE of a 100 MB value} {
        assert_range [r memory usage big] $mb100 [expr {$mb100 * 2}]
    }

    test {COPY, GETSET and GETDEL of a 100 MB value} {
        assert_equal [r copy big big2] 1
        assert_equal [r strlen big2] [expr {$mb100 + 4}]
        set old [r getset big2 small]
        assert_equal [string length $old] [expr {$mb100 + 4}]
        set old [r getdel big]
        list [string length $old] [r exists big] [r get big2]
    } [list [expr {$mb100 + 4}] 0 small]

    test {a 100 MB value survives a restart} {
        r set big $bigval
        if {[server_kind] eq "redis"} { r save }
        restart_server
        r timeout 120000
        set got [r get big]
        list [string length $got] [expr {$got eq $bigval}]
    } [list $mb100 1]

    test {MSET and MGET of several 10 MB values} {
        set ten [string range $bigval 0 [expr {10 * 1024 * 1024 - 1}]]
        r mset b1 $ten b2 $ten b3 $ten
        set vals [r mget b1 b2 b3 nokey]
        list [llength $vals] [expr {[lindex $vals 2] eq $ten}] [lindex $vals 3]
    } {4 1 {}}

    test {APPEND and SETRANGE past proto-max-bulk-len are refused} {
        r set grow x
        assert_error {ERR string exceeds maximum allowed size (proto-max-bulk-len)} {
            r setrange grow [expr {512 * 1024 * 1024}] y
        }
        assert_error {ERR string exceeds maximum allowed size (proto-max-bulk-len)} {
            r setrange grow [expr {512 * 1024 * 1024 - 1}] yy
        }
        r get grow
    } x

    unset bigval
    # One by one: 100 MB values fill Regions, and one DEL of keys in several Regions would
    # be refused with CROSSREGION.
    foreach k {big big2 b1 b2 b3} { r del $k }
}
