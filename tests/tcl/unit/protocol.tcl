# protocol.tcl -- the wire: inline and multibulk requests, pipelining, big bulks, RESP3
# reply types, and protocol errors, which are answered "-ERR Protocol error: ..." and close
# the connection exactly as Redis does. Raw bytes go through `$c write` and replies are read
# with `$c read` / `$c read_line`, so every byte the server sends is checked.

start_server {tags {"protocol"}} {
    test {Inline commands, with quotes and hex escapes} {
        set c [new_client]
        $c write "PING\r\nECHO \"a b\"\r\nECHO 'c d'\r\nECHO \"\\x41\\x00\\x42\"\r\n"
        list [$c read] [$c read] [$c read] [$c read]
    } [list PONG "a b" "c d" "A\x00B"]

    test {Inline command ended by a bare LF} {
        set c [new_client]
        $c write "ECHO lf\n"
        $c read
    } lf

    test {Empty requests are skipped silently} {
        set c [new_client]
        $c write "\r\n*0\r\n*-1\r\n   \r\nPING\r\n"
        $c read
    } PONG

    test {A multibulk request arriving one byte at a time} {
        set c [new_client]
        foreach ch [split "*2\r\n\$4\r\nECHO\r\n\$5\r\nhe\x00lo\r\n" ""] {
            $c write $ch
            $c flush
        }
        $c read
    } "he\x00lo"

    test {Binary-safe bulk arguments} {
        set v "\x00\r\n\xff\x01"
        r echo $v
    } "\x00\r\n\xff\x01"

    test {Ten thousand pipelined commands in one write, answered in order} {
        set c [new_client]
        set req ""
        for {set i 0} {$i < 10000} {incr i} {
            append req [resp::encode [list ECHO $i]]
        }
        $c write $req
        set bad 0
        for {set i 0} {$i < 10000} {incr i} {
            if {[$c read] ne $i} { incr bad }
        }
        set bad
    } 0

    test {Pipelined writes and reads of keys keep their order} {
        set c [new_client]
        set req ""
        for {set i 0} {$i < 3000} {incr i} {
            append req [resp::encode [list SET pk:$i v$i]]
            append req [resp::encode [list GET pk:$i]]
            append req [resp::encode [list INCR pcount]]
        }
        r del pcount
        $c write $req
        set bad 0
        for {set i 0} {$i < 3000} {incr i} {
            if {[$c read] ne "OK"} { incr bad }
            if {[$c read] ne "v$i"} { incr bad }
            if {[$c read] != $i + 1} { incr bad }
        }
        list $bad [r get pcount]
    } {0 3000}

    test {Errors in a pipeline take their place in the order} {
        set c [new_client]
        $c write "PING\r\nNOSUCH\r\nECHO\r\nPING x\r\n"
        set r1 [$c read]
        catch {$c read} e1
        catch {$c read} e2
        list $r1 $e1 $e2 [$c read]
    } {PONG {ERR unknown command 'NOSUCH', with args beginning with: } {ERR wrong number of arguments for 'echo' command} x}

    test {A 100 MB bulk argument} {
        set c [new_client]
        $c timeout 120000
        set big [string repeat "abcdefghij" 10485760]
        set got [$c echo $big]
        list [string length $got] [expr {$got eq $big}]
    } {104857600 1}

    test {Unknown command: the text Redis sends, arguments cut at 128 bytes} {
        catch {r nosuchcmd a "b c" [string repeat x 200]} e
        set e
    } "ERR unknown command 'nosuchcmd', with args beginning with: 'a' 'b c' '[string repeat x 118]' "

    test {Unknown command name is cut at 128 bytes too} {
        catch {r [string repeat Y 300]} e
        set e
    } "ERR unknown command '[string repeat Y 128]', with args beginning with: "

    test {Wrong arity names the command in lower case} {
        catch {r PING a b} e
        set e
    } {ERR wrong number of arguments for 'ping' command}
}

start_server {tags {"protocol"}} {
    # Each case: request bytes, the error the server sends before closing.
    foreach {name bytes err} {
        "invalid multibulk length"      "*abc\r\n"           "invalid multibulk length"
        "multibulk length too large"    "*2147483648\r\n"     "invalid multibulk length"
        "invalid bulk length"           "*1\r\n\$x\r\n"       "invalid bulk length"
        "negative bulk length"          "*1\r\n\$-1\r\n"      "invalid bulk length"
        "bulk above proto-max-bulk-len" "*1\r\n\$536870913\r\n" "invalid bulk length"
        "no dollar sign"                "*1\r\nPING\r\n"      "expected '\$', got 'P'"
        "unbalanced quotes"             "ECHO \"abc\r\n"      "unbalanced quotes in request"
    } {
        test "Protocol error: $name, then the connection closes" {
            set c [new_client]
            $c write $bytes
            catch {$c read} e
            list $e [$c is_closed 5000]
        } [list "ERR Protocol error: $err" 1]
    }

    test {Protocol error: an inline request above 64 KB} {
        set c [new_client]
        $c write [string repeat a 70000]
        catch {$c read} e
        list $e [$c is_closed 5000]
    } {{ERR Protocol error: too big inline request} 1}

    test {Protocol error: a bulk length line above 64 KB} {
        set c [new_client]
        $c write "*1\r\n\$[string repeat 1 70000]"
        catch {$c read} e
        list $e [$c is_closed 5000]
    } {{ERR Protocol error: too big bulk count string} 1}

    test {Commands before a protocol error are answered first} {
        set c [new_client]
        $c write "PING\r\nECHO a\r\n*1\r\n\$z\r\nPING\r\n"
        set a [$c read]
        set b [$c read]
        catch {$c read} e
        list $a $b $e [$c is_closed 5000]
    } {PONG a {ERR Protocol error: invalid bulk length} 1}

    test {A connection sending garbage does not hurt the server} {
        # A fixed pseudo-random byte string: whatever it parses to (unknown commands or a
        # protocol error), the server stays up and other connections are served.
        set c [new_client]
        set x 12345
        set junk ""
        for {set i 0} {$i < 20000} {incr i} {
            set x [expr {($x * 1103515245 + 12345) % 2147483648}]
            append junk [format %c [expr {($x >> 16) & 255}]]
        }
        catch {$c write $junk}
        catch {$c flush}
        $c close
        r ping
    } PONG

    test {Garbage with a NUL inside an inline line stalls until the line limit} {
        # Redis finds line ends with strchr, so a NUL hides the terminator.
        set c [new_client]
        $c write "PI\x00NG\r\n"
        $c write [string repeat b 70000]
        catch {$c read} e
        list $e [$c is_closed 5000]
    } {{ERR Protocol error: too big inline request} 1}

    test {Unauthenticated clients may not send big requests} {
        r config set requirepass secret
        set c [new_client]
        $c write "*20\r\n"
        catch {$c read} e1
        set closed1 [$c is_closed 5000]
        set c [new_client]
        $c write "*2\r\n\$4\r\nECHO\r\n\$20000\r\n"
        catch {$c read} e2
        set closed2 [$c is_closed 5000]
        set c [new_client]
        $c auth secret
        r config set requirepass ""
        list $e1 $closed1 $e2 $closed2 [$c echo [string repeat z 20000]]
    } [list {ERR Protocol error: unauthenticated multibulk length} 1 \
           {ERR Protocol error: unauthenticated bulk length} 1 [string repeat z 20000]]
}

start_server {tags {protocol resp3}} {
    test {HELLO 3 switches the connection to RESP3} {
        set c [new_client]
        set h [$c hello 3]
        list [$c last_type] [dict get $h proto] [dict get $h server] [dict get $h mode] \
            [dict get $h role] [dict get $h modules]
    } {map 3 redis standalone master {}}

    test {RESP3 null for a missing key, RESP2 null after HELLO 2} {
        set c [new_client]
        $c hello 3
        $c del nokey
        set a [list [$c get nokey] [$c last_type] [$c last_prefix]]
        $c hello 2
        lappend a [$c get nokey] [$c last_type] [$c last_prefix]
    } {{} null _ {} null {$}}

    test {RESP3 verbatim strings: INFO, CLIENT INFO, CLIENT LIST} {
        set c [new_client]
        $c hello 3
        set t {}
        set info [$c info server]
        lappend t [$c last_type]
        $c client info
        lappend t [$c last_type]
        $c client list
        lappend t [$c last_type]
        list $t [string match "# Server\r\n*" $info]
    } {{verbatim verbatim verbatim} 1}

    test {RESP3 maps: CONFIG GET, COMMAND DOCS; sets: COMMAND INFO flags} {
        set c [new_client]
        $c hello 3
        set t {}
        set cfg [$c config get maxclients]
        lappend t [$c last_type] [dict get $cfg maxclients]
        $c command docs get
        lappend t [$c last_type]
        set info [$c command info get]
        lappend t [lindex $info 0 0] [lindex $info 0 2]
    } {map 10000 map get {readonly fast}}

    test {RESP3 replies of GET, SET, INCR, ECHO keep their RESP2 types} {
        set c [new_client]
        $c hello 3
        set t {}
        $c set r3 v
        lappend t [$c last_type]
        $c get r3
        lappend t [$c last_type]
        $c del r3
        lappend t [$c last_type]
        $c echo x
        lappend t [$c last_type]
        $c ping
        lappend t [$c last_type]
    } {simple bulk integer bulk simple}

    test {RESP3 error replies are errors} {
        set c [new_client]
        $c hello 3
        catch {$c nosuch} e
        set e
    } {ERR unknown command 'nosuch', with args beginning with: }
}

start_server {tags {protocol basalt-only}} {
    # DEBUG SLEEP delays only its own reply in Basalt (Redis would block the whole server),
    # so a later command finishes first; the replies must still come in request order.
    test {Replies keep request order when completions come back out of order} {
        set c [new_client]
        set req ""
        for {set i 0} {$i < 20} {incr i} {
            append req [resp::encode [list DEBUG SLEEP 0.01]]
            append req [resp::encode [list SET ooo:$i $i]]
            append req [resp::encode [list GET ooo:$i]]
        }
        $c write $req
        set got {}
        for {set i 0} {$i < 20} {incr i} {
            lappend got [$c read] [$c read] [$c read]
        }
        set want {}
        for {set i 0} {$i < 20} {incr i} { lappend want OK OK $i }
        expr {$got eq $want}
    } 1

    test {A connection closed with requests in flight leaves the server healthy} {
        set c [new_client]
        $c write [resp::encode {DEBUG SLEEP 0.2}][resp::encode {SET inflight 1}]
        $c flush
        $c close
        wait_for_condition 100 50 {[r get inflight] eq "1"}
        r ping
    } PONG

    test {A half-closed peer gets every reply, then the close} {
        set s [socket [srv host] [srv port]]
        fconfigure $s -translation binary -buffering none
        puts -nonewline $s "DEBUG SLEEP 0.05\r\nSET hc 1\r\nGET hc\r\n"
        close $s write
        set got [read $s]
        close $s
        set got
    } "+OK\r\n+OK\r\n\$1\r\n1\r\n"
}
