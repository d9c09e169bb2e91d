# test.tcl -- test cases, assertions, tags and the pass/fail ledger of the Tcl suite.
#
# A test is a name and a script. It passes when the script finishes without a Tcl error
# and, if an expected value was given, returns exactly that string. Anything else is a
# failure that is recorded with the file and test name and reported, and the next test
# runs: one broken test never hides the rest of a file. Assertions raise errors with
# -errorcode ASSERTION and say where they were called from, so a report names the line.
#
# Selection: a test runs when its name matches every --only pattern given (glob; any of
# them), it has at least one --tags tag (when --tags is given), and none of its tags is in
# --skip-tags. Tags come from enclosing `start_server {tags {...}}` and `tags {...} {...}`
# blocks and from the test's own fourth argument. The tags "redis-only" and "basalt-only"
# are skipped automatically on the other server kind.

namespace eval suite {
    variable passed 0
    variable failed 0
    variable skipped 0
    # One dict per failure: file, test, message.
    variable failures {}
    # The file being run, as shown in reports (e.g. unit/selftest.tcl).
    variable file ""
    # Tags of the enclosing blocks, innermost last.
    variable tag_stack {}
    # Output is suppressed while > 0 (tests of the framework's own failure path).
    variable quiet 0
    # {file line} of each enclosing block command, innermost last (see locate).
    variable anchors {}
    variable opt
    array set opt {
        only {} tags {} skip_tags {} verbose 0 server redis
    }
}

proc suite::say {msg} {
    variable quiet
    if {$quiet == 0} { puts $msg; flush stdout }
}

# Makes a value readable in a report: control bytes escaped, long values cut.
proc suite::show {value {max 300}} {
    set s [string map {\\ \\\\ \r \\r \n \\n \t \\t \x00 \\0} $value]
    regsub -all {[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]} $s {?} s
    if {[string length $s] > $max} {
        set s "[string range $s 0 [expr {$max - 1}]]...([string length $value] chars)"
    }
    return "'$s'"
}

# Why a test with these tags would not run, or "" if it runs.
proc suite::skip_reason {name tags} {
    variable opt
    if {[llength $opt(only)]} {
        set hit 0
        foreach p $opt(only) {
            if {[string match $p $name]} { set hit 1; break }
        }
        if {!$hit} { return "not selected by --only" }
    }
    return [skip_reason_tags $tags]
}

proc suite::skip_reason_tags {tags} {
    variable opt
    set why [excluded $tags]
    if {$why ne ""} { return $why }
    if {[llength $opt(tags)]} {
        foreach t $tags {
            if {$t in $opt(tags)} { return "" }
        }
        return "no tag in --tags"
    }
    return ""
}

proc suite::record_failure {name message {line ""}} {
    variable failed
    variable failures
    variable file
    incr failed
    set where [expr {$line ne "" ? "$file:$line" : $file}]
    lappend failures [dict create file $file line $line test $name message $message]
    say "\[err\] $where: $name"
    foreach line [split $message "\n"] {
        say "    $line"
    }
}

# Where a command was called, as {file line}, or {} when unknown. Tcl knows the file and
# line of a command in a sourced file, but inside a block body (test, start_server, tags,
# quietly) that reached it through uplevel it only knows the line within the body. Each
# block therefore pushes where its own call is on anchors, and a body line is counted
# from there (a body opens on the line of its command, as the house style writes it).
proc suite::locate {frame} {
    variable anchors
    if {[dict exists $frame file] && [dict exists $frame line]} {
        return [list [dict get $frame file] [dict get $frame line]]
    }
    if {[dict get $frame type] eq "eval" && [dict exists $frame line]
            && [dict exists $frame proc]
            && [dict get $frame proc] in {::test ::start_server ::tags ::quietly}
            && [llength $anchors] && [lindex $anchors end 0] ne ""} {
        lassign [lindex $anchors end] file line body
        set rel [dict get $frame line]
        # Only if the command really is on that line of the block's body (a script handed
        # on through another uplevel, as assert_error does, has lines of its own).
        set cmd [string trim [lindex [split [dict get $frame cmd] "\n"] 0]]
        if {[string first $cmd [lindex [split $body "\n"] [expr {$rel - 1}]]] >= 0} {
            return [list $file [expr {$line + $rel - 1}]]
        }
    }
    return {}
}

# Pushes the location of the block command calling the caller, whose body is body; pop
# with unanchor. Returns the location, {file line} or {}.
proc suite::anchor {body} {
    variable anchors
    if {[catch {info frame -2} frame]} { set frame {type eval} }
    set loc [locate $frame]
    lappend anchors [list {*}[expr {[llength $loc] ? $loc : {"" 0}}] $body]
    return $loc
}

proc suite::unanchor {} {
    variable anchors
    set anchors [lrange $anchors 0 end-1]
}

# Where the failing assertion was called: " (at file:line)" when known, else its text.
proc suite::caller {} {
    # Level -1 is the call of this proc, -2 the call of the assert_* proc.
    if {[catch {info frame -2} frame]} { return "" }
    set loc [locate $frame]
    if {[llength $loc]} {
        return " (at [file tail [lindex $loc 0]]:[lindex $loc 1])"
    }
    if {[dict exists $frame cmd]} {
        set cmd [string trim [lindex [split [dict get $frame cmd] "\n"] 0]]
        if {[string length $cmd] > 80} { set cmd "[string range $cmd 0 76]..." }
        return " (in: $cmd)"
    }
    return ""
}

# " (at file:line)" for the command of the test body that raised an error, when the
# error's trace names it.
proc suite::error_line {loc body info} {
    if {![llength $loc]} { return "" }
    set re {(?:invoked from within|while executing)\n"([^\n]*?)"?\n\s*\("uplevel" body line (\d+)\)}
    if {![regexp $re $info -> cmd rel]} { return "" }
    set text [lindex [split $body "\n"] [expr {$rel - 1}]]
    if {[string first [string trim $cmd] $text] < 0} { return "" }
    return " (at [file tail [lindex $loc 0]]:[expr {[lindex $loc 1] + $rel - 1}])"
}

proc suite::assertion {msg where} {
    return -code error -level 2 -errorcode ASSERTION "$msg$where"
}

# ---- tests ---------------------------------------------------------------------------

# test name body ?expected? ?tags?
proc test {name body args} {
    if {[llength $args] > 2} {
        error "usage: test name body ?expected? ?tags?"
    }
    set tags [concat {*}$::suite::tag_stack [lindex $args 1]]
    set why [suite::skip_reason $name $tags]
    if {$why ne ""} {
        incr ::suite::skipped
        if {$::suite::opt(verbose)} { suite::say "\[skip\] $name ($why)" }
        return
    }
    set loc [suite::anchor $body]
    set start [clock milliseconds]
    set code [catch {uplevel 1 $body} result opts]
    set ms [expr {[clock milliseconds] - $start}]
    suite::unanchor
    set message ""
    if {$code == 1} {
        set ecode [dict get $opts -errorcode]
        if {$ecode eq "ASSERTION"} {
            set message $result
        } else {
            set info [dict get $opts -errorinfo]
            set message "[expr {[lindex $ecode 0] eq "RESP" ? "error" : "Tcl error"}]:\
                $result[suite::error_line $loc $body $info]"
            # A server's error reply, timeout or close needs no Tcl stack trace.
            if {[lindex $ecode 0] ne "RESP"} {
                append message "\n[join [lrange [split $info "\n"] 1 10] "\n"]"
            }
        }
    } elseif {$code != 0 && $code != 2} {
        set message "test body ended with break or continue"
    } elseif {[llength $args] >= 1 && $result ne [lindex $args 0]} {
        set message "Expected [suite::show [lindex $args 0]], got [suite::show $result]"
    }
    if {$message eq ""} {
        incr ::suite::passed
        if {$::suite::opt(verbose)} { suite::say "\[ok\] $name ($ms ms)" }
    } else {
        suite::record_failure $name $message [lindex $loc 1]
        # A reply lost to a timeout would otherwise be read by the next test.
        if {$code == 1 && [lindex [dict get $opts -errorcode] 0] eq "RESP"} {
            catch {srvlib::reconnect_all}
        }
    }
    return
}

# tags {list} {body}: the tests in body carry these tags too.
proc tags {list body} {
    if {[suite::excluded $list] ne ""} { return }
    lappend ::suite::tag_stack $list
    suite::anchor $body
    try {
        uplevel 1 $body
    } finally {
        suite::unanchor
        set ::suite::tag_stack [lrange $::suite::tag_stack 0 end-1]
    }
}

# Why tags exclude a test outright (--skip-tags, or a test for the other server kind), or
# "". A block with such a tag is skipped whole; other selection is made test by test.
proc suite::excluded {tags} {
    variable opt
    foreach t $tags {
        if {$t in $opt(skip_tags)} { return "tag $t skipped" }
        if {$t eq "redis-only" && $opt(server) ne "redis"} { return "redis-only" }
        if {$t eq "basalt-only" && $opt(server) ne "basalt"} { return "basalt-only" }
    }
    return ""
}

# Runs script with the framework's output suppressed.
proc quietly {script} {
    incr ::suite::quiet
    suite::anchor $script
    try {
        uplevel 1 $script
    } finally {
        suite::unanchor
        incr ::suite::quiet -1
    }
}

# The ledger, for tests of the framework itself.
proc test_counts {} {
    return [dict create passed $::suite::passed failed $::suite::failed \
        skipped $::suite::skipped]
}

proc test_failures {} {
    return $::suite::failures
}

proc test_snapshot {} {
    return [dict merge [test_counts] [dict create nfailures [llength $::suite::failures]]]
}

# Puts the ledger back as it was at test_snapshot.
proc test_restore {snap} {
    set ::suite::passed [dict get $snap passed]
    set ::suite::failed [dict get $snap failed]
    set ::suite::skipped [dict get $snap skipped]
    set n [dict get $snap nfailures]
    set ::suite::failures [lrange $::suite::failures 0 [expr {$n - 1}]]
}

# ---- assertions ----------------------------------------------------------------------

proc fail {msg} {
    suite::assertion $msg [suite::caller]
}

proc assert_equal {value expected {detail ""}} {
    if {$value ne $expected} {
        set msg "Expected [suite::show $expected], got [suite::show $value]"
        if {$detail ne ""} { append msg " ($detail)" }
        suite::assertion $msg [suite::caller]
    }
}

proc assert_not_equal {value unexpected {detail ""}} {
    if {$value eq $unexpected} {
        set msg "Expected something other than [suite::show $unexpected]"
        if {$detail ne ""} { append msg " ($detail)" }
        suite::assertion $msg [suite::caller]
    }
}

proc assert_match {pattern value {detail ""}} {
    if {![string match $pattern $value]} {
        set msg "Expected [suite::show $value] to match [suite::show $pattern]"
        if {$detail ne ""} { append msg " ($detail)" }
        suite::assertion $msg [suite::caller]
    }
}

proc assert_no_match {pattern value} {
    if {[string match $pattern $value]} {
        suite::assertion "Expected [suite::show $value] not to match\
            [suite::show $pattern]" [suite::caller]
    }
}

# assert_error pattern script: script must raise an error whose message matches pattern.
proc assert_error {pattern script} {
    if {![catch {uplevel 1 $script} err]} {
        suite::assertion "Expected an error matching [suite::show $pattern], but the\
            script returned [suite::show $err]" [suite::caller]
    }
    if {![string match $pattern $err]} {
        suite::assertion "Expected an error matching [suite::show $pattern], got\
            [suite::show $err]" [suite::caller]
    }
}

proc assert_range {value min max} {
    if {![string is double -strict $value] || $value < $min || $value > $max} {
        suite::assertion "Expected [suite::show $value] in \[$min, $max\]" [suite::caller]
    }
}

# assert_true expr / assert_false expr: the argument is evaluated as an expression in the
# caller, so both `assert_true {[r exists k]}` and `assert_true $flag` work.
proc assert_true {cond} {
    if {![uplevel 1 [list expr $cond]]} {
        suite::assertion "Expected true: $cond" [suite::caller]
    }
}

proc assert_false {cond} {
    if {[uplevel 1 [list expr $cond]]} {
        suite::assertion "Expected false: $cond" [suite::caller]
    }
}

proc assert {cond} {
    if {![uplevel 1 [list expr $cond]]} {
        suite::assertion "Assertion failed: $cond" [suite::caller]
    }
}

# wait_for_condition maxtries delay_ms cond ?else script?
# wait_for_condition {maxtries delay_ms} cond ?else script?
# Evaluates the expression cond up to maxtries times, delay_ms apart, until it is true.
# When it never is, runs the else script if given, else fails the test.
proc wait_for_condition {args} {
    if {[llength [lindex $args 0]] == 2} {
        set args [list {*}[lindex $args 0] {*}[lrange $args 1 end]]
    }
    if {[llength $args] != 3 && !([llength $args] == 5 && [lindex $args 3] eq "else")} {
        error "usage: wait_for_condition maxtries delay cond ?else script?"
    }
    lassign $args tries delay cond - otherwise
    for {set i 0} {$i < $tries} {incr i} {
        if {[uplevel 1 [list expr $cond]]} { return }
        after $delay
    }
    if {[llength $args] == 5} {
        uplevel 1 $otherwise
    } else {
        suite::assertion "Condition not met after $tries tries of $delay ms: $cond" \
            [suite::caller]
    }
}
