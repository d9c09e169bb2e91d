# selftest.tcl -- tests of the Tcl framework itself: the RESP client, server control and
# the test ledger. They pass against redis-server, so a failure here is the framework's
# fault (or the server's), never a test-file convention.

# ---- the RESP parser, against canned replies from an in-process fake server ----------

# Serves bytes to every connection, then closes it when close_after is 1. Returns the
# listening channel; its port is [lindex [fconfigure $s -sockname] 2].
proc fake_server {bytes close_after} {
    return [socket -server [list fake_accept $bytes $close_after] -myaddr 127.0.0.1 0]
}

proc fake_accept {bytes close_after chan addr port} {
    fconfigure $chan -translation binary
    puts -nonewline $chan $bytes
    if {$close_after} {
        close $chan
    } else {
        flush $chan
        lappend ::fake_chans $chan
    }
}

proc fake_port {s} {
    return [lindex [fconfigure $s -sockname] 2]
}

test {parser: every RESP2 and RESP3 reply type} {
    # One reply per line; "\n" becomes CRLF below.
    set canned [string map [list \n \r\n] [string trimleft {
+OK
-ERR boom
:42
:-7
$5
hello
$-1
$0

*3
:1
*2
+a
$1
b
_
*-1
%2
+k1
:1
+k2
*1
+x
~2
+a
+b
_
,3.25
,-inf
#t
#f
(123456789012345678901234567890
=15
txt:hello world
>3
+message
+chan
$2
hi
|1
+ttl
:100
+decorated
!21
SYNTAX invalid syntax
*3
+OK
-WRONGTYPE bad
:5
+after
} "\n"]]
    append canned "\$7\r\na\x00b\r\nc\xff\r\n"
    set s [fake_server $canned 1]
    set c [resp::connect 127.0.0.1 [fake_port $s] -timeout 2000]
    set types {}
    set errors {}
    foreach want {OK - 42 -7 hello {} {} {1 {a b} {}} {} {k1 1 k2 x} {a b} {} 3.25 -inf
                  1 0 123456789012345678901234567890 {hello world} {message chan hi}
                  decorated - - after "a\x00b\r\nc\xff"} {
        if {[catch {$c read} value opts]} {
            lappend errors $value [dict get $opts -errorcode]
        } else {
            assert_equal $value $want
            if {$value eq "decorated"} {
                assert_equal [$c last_attribs] {ttl 100}
            }
        }
        lappend types "[$c last_type] [$c last_prefix]"
    }
    assert_equal $errors [list {ERR boom} {RESP ERR} {SYNTAX invalid syntax} {RESP SYNTAX} \
        {WRONGTYPE bad} {RESP WRONGTYPE}]
    assert_true {[$c is_closed 1000]}
    assert_error {*closed*} {$c read}
    $c close
    close $s
    join $types ,
} [join {{simple +} {error -} {integer :} {integer :} {bulk $} {null $} {bulk $} {array *}
    {null *} {map %} {set ~} {null _} {double ,} {double ,} {boolean #} {boolean #}
    {bignum (} {verbatim =} {push >} {simple +} {error !} {array *} {simple +} {bulk $}} ,]

test {parser: a silent server makes a read fail after the timeout} {
    set s [fake_server "" 0]
    set c [resp::connect 127.0.0.1 [fake_port $s] -timeout 200]
    set start [clock milliseconds]
    assert_error {timeout*} {$c read}
    assert_range [expr {[clock milliseconds] - $start}] 150 3000
    $c close
    close $s
    foreach ch $::fake_chans { close $ch }
    set ::fake_chans {}
}

test {parser: a reply that is not RESP is a client protocol error} {
    set s [fake_server "hello\r\n" 0]
    set c [resp::connect 127.0.0.1 [fake_port $s] -timeout 2000]
    assert_error {client protocol error*} {$c read}
    $c close
    close $s
    foreach ch $::fake_chans { close $ch }
    set ::fake_chans {}
}

# ---- the test ledger and assertions ----------------------------------------------------

test {framework: failing tests are counted and reported, then undone} {
    set snap [test_snapshot]
    quietly {
        test {inner: wrong expected value} {expr {1 + 1}} 3
        test {inner: failing assertion} {assert_equal a b}
        test {inner: Tcl error in the body} {error boom}
        test {inner: passing} {expr {2 + 2}} 4
    }
    set counts [test_counts]
    set new [lrange [test_failures] [dict get $snap nfailures] end]
    test_restore $snap
    assert_equal [test_counts] [dict remove $snap nfailures]
    assert_equal [expr {[dict get $counts failed] - [dict get $snap failed]}] 3
    assert_equal [expr {[dict get $counts passed] - [dict get $snap passed]}] 1
    assert_equal [llength $new] 3
    assert_equal [dict get [lindex $new 0] test] {inner: wrong expected value}
    assert_equal [dict get [lindex $new 0] file] $::suite::file
    assert_match {Expected '3', got '2'} [dict get [lindex $new 0] message]
    assert_match {Expected 'b', got 'a' (at selftest.tcl:*)} [dict get [lindex $new 1] message]
    assert_true {[dict get [lindex $new 1] line] > 0}
    assert_match {Tcl error: boom*} [dict get [lindex $new 2] message]
}

test {framework: assertions fail when they should} {
    assert_error {Expected an error*} {assert_error {*} {set x 1}}
    assert_error {Expected an error matching*got 'nope'*} {assert_error {*boom*} {error nope}}
    assert_error {Expected*to match*} {assert_match {a*} banana}
    assert_error {Expected*in*} {assert_range 11 1 10}
    assert_error {Expected*in*} {assert_range abc 1 10}
    assert_error {Expected true*} {assert_true {1 > 2}}
    assert_error {Expected false*} {assert_false 1}
    assert_error {Expected something other*} {assert_not_equal x x}
    assert_error {Assertion failed*} {assert {0}}
    assert_error {custom reason*} {fail "custom reason"}
    catch {assert_equal 1 2} err
    assert_match {Expected '2', got '1' (at selftest.tcl:*)} $err
    assert_range 5 1 10
    assert_range 2.5 2.5 2.5
    assert_true {2 > 1}
    assert_false {[string length ""]}
}

test {framework: wait_for_condition polls, then gives up} {
    set n 0
    wait_for_condition 50 1 {[incr n] >= 3}
    assert_equal $n 3
    set n 0
    wait_for_condition {5 1} {[incr n] >= 5}
    assert_error {Condition not met after 3 tries*} {wait_for_condition 3 1 {0}}
    set hit 0
    wait_for_condition 2 1 {0} else { set hit 1 }
    set hit
} 1

test {framework: tags and --only select tests} {
    set snap [test_snapshot]
    set saved [array get ::suite::opt]
    set ran {}
    quietly {
        set ::suite::opt(skip_tags) {slow}
        tags {slow} { test {inner: tagged slow} { lappend ran slow } }
        test {inner: own tag} { lappend ran own } {} {slow}
        set ::suite::opt(skip_tags) {}
        set ::suite::opt(tags) {fast}
        test {inner: untagged} { lappend ran untagged }
        test {inner: tagged fast} { lappend ran fast } [list fast] {fast}
        set ::suite::opt(tags) {}
        set ::suite::opt(only) {{*picked*}}
        test {inner: not this one} { lappend ran other }
        test {inner: picked} { lappend ran picked } [list fast picked]
    }
    array set ::suite::opt $saved
    # A block whose tag is skipped is not entered, so its tests are not counted.
    set skipped [expr {[dict get [test_counts] skipped] - [dict get $snap skipped]}]
    test_restore $snap
    list $ran $skipped
} {{fast picked} 3}

# ---- a real server -----------------------------------------------------------------------

start_server {tags {"selftest"}} {
    test {PING replies PONG} {
        r ping
    } PONG

    test {SET/GET of a binary key and value} {
        r set "k\x00\r\n" "v\x00\r\n\$3\r\n"
        r get "k\x00\r\n"
    } "v\x00\r\n\$3\r\n"

    test {every byte value survives a round trip} {
        set all ""
        for {set i 0} {$i < 256} {incr i} { append all [format %c $i] }
        r set bytes $all
        assert_equal [r strlen bytes] 256
        assert_equal [r get bytes] $all
    }

    test {text beyond Latin-1 is sent as UTF-8} {
        r set text "\u00e9\u20ac"
        assert_equal [r strlen text] 5
        encoding convertfrom utf-8 [r get text]
    } "\u00e9\u20ac"

    test {a missing key is the empty string, typed null} {
        assert_equal [r get no-such-key] ""
        r last_type
    } null

    test {GET with wrong arity is an error reply} {
        assert_error {*wrong number of arguments for 'get' command*} {r get}
    }

    test {the connection stays usable after an error reply} {
        catch {r get}
        r ping
    } PONG

    test {a pipeline of 10000 SETs through a deferred client} {
        set c [deferred_client]
        for {set i 0} {$i < 10000} {incr i} {
            $c set pipe:$i "value $i\r\n\x00"
        }
        set ok 0
        for {set i 0} {$i < 10000} {incr i} {
            if {[$c read] eq "OK"} { incr ok }
        }
        $c close
        assert_equal $ok 10000
        list [r get pipe:0] [r get pipe:9999]
    } [list "value 0\r\n\x00" "value 9999\r\n\x00"]

    test {RESP3: HELLO 3 replies with a map} {
        set c [new_client]
        set hello [$c hello 3]
        assert_equal [$c last_type] map
        assert_equal [dict get $hello proto] 3
        assert_true {[dict exists $hello server]}
        $c close
    }

    test {RESP3: INCRBYFLOAT, and a missing key is "_"} {
        set c [new_client]
        $c hello 3
        $c del f
        assert_equal [$c incrbyfloat f 10.5] 10.5
        # Redis 7 replies with a bulk string here; a double is as good.
        assert_true {[$c last_type] in {bulk double}}
        assert_equal [$c get no-such-key] ""
        assert_equal [$c last_prefix] "_"
        $c close
    }

    test {RESP3: a sorted-set score is a double} {
        set c [new_client]
        $c hello 3
        $c del z
        assert_equal [$c zincrby z 2.5 m] 2.5
        assert_equal [$c last_type] double
        $c close
    } {} {zset redis-only}

    test {protocol abuse: a bad bulk length is a protocol error, then a close} {
        set c [new_client]
        $c write "*1\r\n\$x\r\n"
        assert_match {-ERR Protocol error*} [$c read_line]
        assert_true {[$c is_closed 2000]}
    }

    test {protocol abuse: half a command gets no reply, and the read times out} {
        set c [new_client]
        $c timeout 200
        $c write "*2\r\n\$3\r\nGET\r\n\$1"
        assert_error {timeout*} {$c read}
        # The rest of the command completes it.
        $c write "\r\nk\r\n"
        $c timeout 5000
        $c read
        $c close
        r ping
    } PONG

    test {restart_server keeps the data} {
        r set durable "survives\x00"
        if {[server_kind] eq "redis"} {
            # redis-server runs with --save "": write the snapshot by hand. Basalt makes
            # every acknowledged write durable, so it needs no step here.
            r save
        }
        set old [srv pid]
        restart_server
        assert_not_equal [srv pid] $old
        r get durable
    } "survives\x00"

    test {srv knows the port, pid and data directory} {
        assert_range [srv port] 1 65535
        assert_true {[file isdirectory [srv dir]]}
        assert_equal [srv kind] [server_kind]
        r ping
    } PONG

    start_server {tags {"selftest"}} {
        test {nested start_server: a second server, levels reach the outer one} {
            assert_not_equal [srv port] [srv -1 port]
            r set where inner
            r -1 set where outer
            list [r get where] [r -1 get where]
        } {inner outer}
    }
}

test {a stopped server is gone and its directory removed} {
    set dir ""
    set pid ""
    quietly {
        start_server {} {
            set dir [srv root]
            set pid [srv pid]
        }
    }
    list [srvlib::pid_alive $pid] [file exists $dir]
} {0 0}
