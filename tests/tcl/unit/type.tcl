# type.tcl -- TYPE: every Basalt value is a string; a missing or expired key is "none".

start_server {tags {"type"}} {
    test {TYPE of a string} {
        r set s v
        r type s
    } string

    test {TYPE of values that look like numbers, and of an empty value} {
        r set i 42
        r set f 1.5
        r set e ""
        list [r type i] [r type f] [r type e]
    } {string string string}

    test {TYPE of a missing key} {
        r del nokey
        r type nokey
    } none

    test {TYPE replies with a simple string} {
        r set s v
        r type s
        r last_type
    } simple

    test {TYPE of a binary key} {
        r set "t\x00\r\n" v
        list [r type "t\x00\r\n"] [r type "t\x00"]
    } {string none}

    test {TYPE of an expired key} {
        r psetex gone 50 v
        wait_for_condition 100 50 {[r type gone] eq "none"}
        r type gone
    } none

    test {TYPE after DEL and after RENAME} {
        r set a v
        r rename a b
        set out [list [r type a] [r type b]]
        r del b
        lappend out [r type b]
    } {none string none}

    test {TYPE under RESP3 is a simple string} {
        set c [new_client]
        $c hello 3
        $c set s v
        set out [list [$c type s] [$c last_type] [$c type nokey] [$c last_type]]
        $c close
        set out
    } {string simple none simple}

    test {TYPE with wrong arity} {
        assert_error {ERR wrong number of arguments for 'type' command} {r type}
        assert_error {ERR wrong number of arguments for 'type' command} {r type a b}
    }
}
