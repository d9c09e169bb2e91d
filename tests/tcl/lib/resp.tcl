# resp.tcl -- a small RESP2/RESP3 client for the Tcl suite.
#
# Tests talk to the server under test through this file only, so it must never be the
# reason a test hangs or lies: every read is bounded by a per-connection timeout, every
# byte goes over the wire exactly as given (the channel is binary; a Tcl string whose
# characters all fit in a byte is sent as those bytes, any other string as its UTF-8), and
# replies come back as byte strings.
#
# A connection is a command object:
#
#   set c [resp::connect 127.0.0.1 6379 ?-defer 0|1? ?-timeout ms?]
#   $c set k v            ;# send SET and, unless deferred, return its reply
#   $c read               ;# read one reply (how a deferred connection collects them)
#   $c send get k         ;# send a command without reading, deferred or not
#   $c write $bytes       ;# raw bytes, for protocol-abuse tests
#   $c flush              ;# wait (bounded) until everything sent has left the process
#   $c read_line          ;# one raw line without its CRLF
#   $c read_bytes n       ;# exactly n raw bytes
#   $c is_closed ?ms?     ;# 1 once the server has closed the connection (waits up to ms)
#   $c last_type          ;# type of the last reply: simple integer bulk array null map set
#                         ;#   double boolean verbatim push bignum
#   $c last_prefix        ;# its first byte, to tell RESP3 "_" from RESP2 "$-1"
#   $c last_attribs       ;# the RESP3 attribute map ("|") that preceded it, if any
#   $c timeout ?ms?       ;# get or set the read timeout
#   $c deferred ?0|1?     ;# get or set deferred mode
#   $c close
#
# Reply mapping: simple, bulk, verbatim (without its "txt:" header), double and big number
# are strings; integers are integers; booleans are 1/0; every null is the empty string
# (check last_type); arrays, sets and pushes are lists; maps and attributes are flat
# key/value lists (usable as dicts). An error reply ("-" or RESP3 "!") raises a Tcl error
# whose message is the error text and whose -errorcode is {RESP <first word>}; an error
# nested in an aggregate raises the same once the whole aggregate has been read. A timeout raises with -errorcode {RESP TIMEOUT}; a connection the
# server closed raises with -errorcode {RESP CLOSED}.

namespace eval resp {
    variable next_id 0
    # Per connection, indexed by id: sock, buf (unparsed input), pos (parse offset into
    # buf), eof, defer, timeout, last_type, last_prefix, last_attribs, error (first error
    # met in the reply being read).
    variable conn
    variable default_timeout 10000
    # Set by the readable/timer events while a read waits in vwait.
    variable wake
}

# Opens a connection; returns the name of its command object.
proc resp::connect {host port args} {
    variable next_id
    variable conn
    variable default_timeout
    set opts [dict merge [dict create -defer 0 -timeout $default_timeout] $args]
    set sock [socket $host $port]
    fconfigure $sock -translation binary -blocking 0 -buffering full -buffersize 65536
    set id [incr next_id]
    array set conn [list \
        $id,sock $sock $id,buf "" $id,pos 0 $id,eof 0 \
        $id,defer [dict get $opts -defer] $id,timeout [dict get $opts -timeout] \
        $id,last_type "" $id,last_prefix "" $id,last_attribs {} $id,error ""]
    set cmd ::resp::conn$id
    interp alias {} $cmd {} ::resp::dispatch $id
    return $cmd
}

# Encodes one command as a RESP multibulk.
proc resp::encode {argv} {
    set out "*[llength $argv]\r\n"
    foreach a $argv {
        if {[regexp {[^\x00-\xff]} $a]} {
            set a [encoding convertto utf-8 $a]
        }
        append out "\$[string length $a]\r\n$a\r\n"
    }
    return $out
}

proc resp::dispatch {id op args} {
    variable conn
    switch -exact -- $op {
        read        { return [read_reply $id] }
        send        { send_bytes $id [encode $args]; return }
        write       { send_bytes $id [join $args ""]; return }
        flush       { drain_output $id; return }
        read_line   { return [read_line $id] }
        read_bytes  { return [read_exact $id [lindex $args 0]] }
        is_closed   { return [is_closed $id {*}$args] }
        last_type   { return $conn($id,last_type) }
        last_prefix { return $conn($id,last_prefix) }
        last_attribs { return $conn($id,last_attribs) }
        timeout {
            if {[llength $args]} { set conn($id,timeout) [lindex $args 0] }
            return $conn($id,timeout)
        }
        deferred {
            if {[llength $args]} { set conn($id,defer) [lindex $args 0] }
            return $conn($id,defer)
        }
        close       { close_conn $id; return }
        default {
            send_bytes $id [encode [linsert $args 0 $op]]
            if {$conn($id,defer)} { return }
            return [read_reply $id]
        }
    }
}

proc resp::close_conn {id} {
    variable conn
    catch {close $conn($id,sock)}
    array unset conn $id,*
    catch {interp alias {} ::resp::conn$id {}}
}

# Queues bytes on the non-blocking channel; Tcl writes them out as the socket allows,
# including while a later read waits in the event loop.
proc resp::send_bytes {id bytes} {
    variable conn
    set sock $conn($id,sock)
    if {[catch {puts -nonewline $sock $bytes; flush $sock} err]} {
        return -code error -errorcode {RESP CLOSED} "write failed: $err"
    }
}

# Waits (bounded) until everything queued has reached the kernel.
proc resp::drain_output {id} {
    variable conn
    set sock $conn($id,sock)
    set deadline [expr {[clock milliseconds] + $conn($id,timeout)}]
    while {[chan pending output $sock] > 0} {
        if {[clock milliseconds] > $deadline} {
            return -code error -errorcode {RESP TIMEOUT} "timeout flushing output"
        }
        after 5
        catch {flush $sock}
        update
    }
}

# Appends whatever the socket has to the buffer, waiting up to the timeout for at least
# one byte. Raises on timeout or when the server closed the connection.
proc resp::fill {id} {
    variable conn
    variable wake
    set sock $conn($id,sock)
    if {$conn($id,eof)} {
        return -code error -errorcode {RESP CLOSED} "connection closed by server"
    }
    # Drop what is parsed so the buffer stays small during long pipelines.
    if {$conn($id,pos) > 65536} {
        set conn($id,buf) [string range $conn($id,buf) $conn($id,pos) end]
        set conn($id,pos) 0
    }
    set deadline [expr {[clock milliseconds] + $conn($id,timeout)}]
    while 1 {
        if {[catch {read $sock} data]} {
            set conn($id,eof) 1
            return -code error -errorcode {RESP CLOSED} "connection closed by server: $data"
        }
        if {$data ne ""} {
            append conn($id,buf) $data
            return
        }
        if {[eof $sock]} {
            set conn($id,eof) 1
            return -code error -errorcode {RESP CLOSED} "connection closed by server"
        }
        set left [expr {$deadline - [clock milliseconds]}]
        if {$left <= 0} {
            return -code error -errorcode {RESP TIMEOUT} \
                "timeout: no reply within $conn($id,timeout) ms"
        }
        set wake($id) ""
        fileevent $sock readable [list set ::resp::wake($id) readable]
        set timer [after $left [list set ::resp::wake($id) timeout]]
        vwait ::resp::wake($id)
        after cancel $timer
        fileevent $sock readable {}
    }
}

# One CRLF-terminated line from the buffer, without the CRLF.
proc resp::read_line {id} {
    variable conn
    while {[set nl [string first "\r\n" $conn($id,buf) $conn($id,pos)]] < 0} {
        fill $id
    }
    set line [string range $conn($id,buf) $conn($id,pos) [expr {$nl - 1}]]
    set conn($id,pos) [expr {$nl + 2}]
    return $line
}

proc resp::read_exact {id n} {
    variable conn
    while {[string length $conn($id,buf)] - $conn($id,pos) < $n} {
        fill $id
    }
    set end [expr {$conn($id,pos) + $n}]
    set bytes [string range $conn($id,buf) $conn($id,pos) [expr {$end - 1}]]
    set conn($id,pos) $end
    return $bytes
}

# 1 if the server closes the connection within ms (data it sends first is kept in the
# buffer for read_line), else 0.
proc resp::is_closed {id {ms 1000}} {
    variable conn
    if {$conn($id,eof)} { return 1 }
    set saved $conn($id,timeout)
    set conn($id,timeout) $ms
    set deadline [expr {[clock milliseconds] + $ms}]
    set closed 0
    while {[clock milliseconds] < $deadline} {
        if {[catch {fill $id} err opts]} {
            set closed [expr {[lindex [dict get $opts -errorcode] 1] eq "CLOSED"}]
            break
        }
    }
    set conn($id,timeout) $saved
    return $closed
}

proc resp::read_reply {id} {
    variable conn
    set conn($id,last_attribs) {}
    set conn($id,error) ""
    set value [read_value $id 1]
    # An error is raised only once the whole reply is consumed, so a nested one (an EXEC
    # result, say) does not leave the rest of its aggregate in the stream.
    if {$conn($id,error) ne ""} {
        set text $conn($id,error)
        return -code error -errorcode [list RESP [lindex [split $text " "] 0]] $text
    }
    return $value
}

# Reads one value; top is 1 for the reply itself (its type is recorded), 0 inside
# aggregates.
proc resp::read_value {id top} {
    variable conn
    set line [read_line $id]
    set prefix [string index $line 0]
    set rest [string range $line 1 end]
    set type ""
    switch -exact -- $prefix {
        + { set type simple; set value $rest }
        - { set type error; set value [note_error $id $rest] }
        : { set type integer; set value [number $id $rest] }
        $ {
            set n [number $id $rest]
            if {$n < 0} {
                set type null; set value ""
            } else {
                set type bulk; set value [read_bulk $id $n]
            }
        }
        * - ~ - > {
            set n [number $id $rest]
            set type [dict get {* array ~ set > push} $prefix]
            if {$n < 0} {
                set type null; set value ""
            } else {
                set value {}
                for {set i 0} {$i < $n} {incr i} {
                    lappend value [read_value $id 0]
                }
            }
        }
        % - | {
            set n [number $id $rest]
            set value {}
            for {set i 0} {$i < 2 * $n} {incr i} {
                lappend value [read_value $id 0]
            }
            if {$prefix eq "|"} {
                # An attribute decorates the value that follows it.
                if {$top} { set conn($id,last_attribs) $value }
                return [read_value $id $top]
            }
            set type map
        }
        _ { set type null; set value "" }
        , { set type double; set value $rest }
        # {
            set type boolean
            switch -exact -- $rest {
                t { set value 1 }
                f { set value 0 }
                default { protocol_error $id "bad boolean '$rest'" }
            }
        }
        ( { set type bignum; set value $rest }
        = {
            set type verbatim
            set value [string range [read_bulk $id [number $id $rest]] 4 end]
        }
        ! {
            set type error
            set value [note_error $id [read_bulk $id [number $id $rest]]]
        }
        default { protocol_error $id "unexpected reply line '$line'" }
    }
    set_type $id $top $type $prefix
    return $value
}

proc resp::set_type {id top type prefix} {
    variable conn
    if {$top} {
        set conn($id,last_type) $type
        set conn($id,last_prefix) $prefix
    }
}

proc resp::read_bulk {id n} {
    set value [read_exact $id $n]
    if {[read_exact $id 2] ne "\r\n"} {
        protocol_error $id "bulk of $n bytes not followed by CRLF"
    }
    return $value
}

proc resp::number {id text} {
    if {![string is entier -strict $text]} {
        protocol_error $id "bad length or integer '$text'"
    }
    return $text
}

# Remembers the first error of a reply; inside an aggregate its text stands as the element.
proc resp::note_error {id text} {
    variable conn
    if {$conn($id,error) eq ""} { set conn($id,error) $text }
    return $text
}

# The reply stream can no longer be trusted: close it so later reads fail fast.
proc resp::protocol_error {id msg} {
    variable conn
    catch {close $conn($id,sock)}
    set conn($id,sock) ""
    set conn($id,eof) 1
    return -code error -level 2 -errorcode {RESP PROTOCOL} "client protocol error: $msg"
}
