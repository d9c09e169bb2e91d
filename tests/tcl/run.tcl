# run.tcl -- runs the Tcl suite: every tests/tcl/unit/*.tcl, or the files named.
#
#   tclsh tests/tcl/run.tcl ?options? ?file ...?
#     --server basalt|redis   kind of server to start (default: $BASALT_TCL_SERVER or basalt)
#     --binary PATH           server binary (default: bin/basalt-server, or redis-server)
#     --tags "a b"            run only tests carrying one of these tags
#     --skip-tags "a b"       skip tests carrying any of these tags
#     --only PATTERN          run only tests whose name matches the glob (repeatable)
#     --timeout MS            read timeout of every connection (default 10000)
#     --log-dir DIR           keep server logs of blocks with failures here
#     --verbose               one line per test, not only per failure
#
# Environment: BASALT_TCL_SERVER (kind), BASALT_SERVER_BIN (binary),
# BASALT_TCL_START_TIMEOUT (ms to wait for PING, default 30000), BASALT_TCL_SERVER_LIFETIME
# (seconds a server may run before its watchdog stops it, default 1800).
#
# Prints a line per failure as it happens, a line per file, a recap of the failures, and
# last the line "N passed, N failed" alone. Exits 1 if anything failed.

set tcl_dir [file dirname [file normalize [info script]]]
source [file join $tcl_dir lib resp.tcl]
source [file join $tcl_dir lib test.tcl]
source [file join $tcl_dir lib server.tcl]

proc usage {msg} {
    puts stderr "run.tcl: $msg"
    puts stderr "usage: tclsh run.tcl ?--server basalt|redis? ?--binary PATH? ?--tags T?\
        ?--skip-tags T? ?--only PATTERN? ?--timeout MS? ?--log-dir DIR? ?--verbose? ?file ...?"
    exit 2
}

# Comma- or space-separated tag lists are both accepted.
proc tag_list {text} {
    return [split [string map {, " "} $text] " "]
}

set suite::opt(server) basalt
if {[info exists env(BASALT_TCL_SERVER)] && $env(BASALT_TCL_SERVER) ne ""} {
    set suite::opt(server) $env(BASALT_TCL_SERVER)
}
if {[info exists env(BASALT_SERVER_BIN)] && $env(BASALT_SERVER_BIN) ne ""} {
    set srvlib::opt(binary) $env(BASALT_SERVER_BIN)
}
# Bounds: how long a server may take to answer PING, and how long it may live at all.
foreach {var key} {BASALT_TCL_START_TIMEOUT start_timeout BASALT_TCL_SERVER_LIFETIME lifetime} {
    if {[info exists env($var)] && [string is integer -strict $env($var)]} {
        set srvlib::opt($key) $env($var)
    }
}
set files {}
for {set i 0} {$i < [llength $argv]} {incr i} {
    set a [lindex $argv $i]
    set needs_value {--server --binary --tags --skip-tags --only --timeout --log-dir}
    if {$a in $needs_value} {
        if {$i + 1 >= [llength $argv]} { usage "$a needs a value" }
        set v [lindex $argv [incr i]]
    }
    switch -exact -- $a {
        --server    { set suite::opt(server) $v }
        --binary    { set srvlib::opt(binary) [file normalize $v] }
        --tags      { lappend suite::opt(tags) {*}[tag_list $v] }
        --skip-tags { lappend suite::opt(skip_tags) {*}[tag_list $v] }
        --only      { lappend suite::opt(only) $v }
        --timeout   { set resp::default_timeout $v }
        --log-dir   { set srvlib::opt(log_dir) [file normalize $v] }
        --verbose   { set suite::opt(verbose) 1 }
        default {
            if {[string match -* $a]} { usage "unknown option $a" }
            lappend files $a
        }
    }
}
if {$suite::opt(server) ni {basalt redis}} {
    usage "--server must be basalt or redis"
}
if {![llength $files]} {
    set files [lsort [glob -nocomplain -directory [file join $tcl_dir unit] *.tcl]]
}

# Servers never outlive the runner, however it ends.
rename exit suite::real_exit
proc exit {{code 0}} {
    catch {srvlib::kill_all}
    suite::real_exit $code
}

puts "tcl: server [server_kind] ([srvlib::binary [server_kind]]), [llength $files] file(s)"
# The loop runs in a proc so its variables cannot be overwritten by test bodies, which
# execute at global scope as Redis's do.
proc run_files {files tcl_dir} {
foreach path $files {
    if {![file exists $path]} {
        set path [file join $tcl_dir unit [file tail $path]]
    }
    set path [file normalize $path]
    set suite::file "unit/[file tail $path]"
    set before [test_counts]
    set start [clock milliseconds]
    if {[catch {uplevel #0 [list source $path]} err opts]} {
        set trace [lrange [split [dict get $opts -errorinfo] "\n"] 1 10]
        suite::record_failure "(file aborted)" "$err\n[join $trace "\n"]"
    }
    srvlib::kill_all
    set srvlib::stack {}
    set suite::tag_stack {}
    set suite::anchors {}
    set after [test_counts]
    puts [format "  %-28s %4d passed, %d failed, %d skipped  (%.1f s)" $suite::file \
        [expr {[dict get $after passed] - [dict get $before passed]}] \
        [expr {[dict get $after failed] - [dict get $before failed]}] \
        [expr {[dict get $after skipped] - [dict get $before skipped]}] \
        [expr {([clock milliseconds] - $start) / 1000.0}]]
}
}
run_files $files $tcl_dir

if {[llength $suite::failures]} {
    puts "Failures:"
    foreach f $suite::failures {
        set first [lindex [split [dict get $f message] "\n"] 0]
        set where [dict get $f file]
        if {[dict get $f line] ne ""} { append where ":[dict get $f line]" }
        puts "  $where: [dict get $f test]: $first"
    }
}
puts "$suite::passed passed, $suite::failed failed"
exit [expr {$suite::failed > 0}]
