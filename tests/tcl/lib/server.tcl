# server.tcl -- starts, restarts and stops the server under test for a block of tests.
#
# The suite drives one of two kinds of server with the same test files:
#   basalt  bin/basalt-server, a standalone node (embedded PD) on four free ports
#   redis   redis-server, to prove the tests and the framework against the reference
# Every server gets free ports on 127.0.0.1 and a fresh temporary directory, and is
# stopped by its pid (SIGTERM, then SIGKILL after a bound), never by name. A watchdog
# process per server (watchdog.sh) stops it by pid if this tclsh dies or the server
# outlives its time bound, so no server outlives the suite.
#
#   start_server {tags {...} overrides {name value ...} args {...}} { body }
#   restart_server ?-signal TERM|KILL?    ;# same data dir and ports, `r` reconnected
#   srv ?level? key                       ;# host port pid dir root log kind client, and
#                                         ;# for basalt grpc_port status_port pd_port
#   r ?level? cmd ?arg ...?               ;# a command on the block's own connection
#   new_client ?-defer 0|1? ?-level n?    ;# extra connection, closed with the server
#   deferred_client ?-level n?
#   server_kind                           ;# basalt or redis
#
# Levels count outwards from the innermost block: 0 is the current server, -1 the one
# around it.

namespace eval srvlib {
    variable next_id 0
    # Servers by id: S(id,key). Keys: kind host port ports pid watchdog root dir log
    # client clients argv.
    variable S
    # Ids of the running blocks, innermost last.
    variable stack {}
    variable lib_dir [file dirname [file normalize [info script]]]
    variable opt
    array set opt {
        binary ""
        start_timeout 30000
        stop_timeout 10000
        lifetime 1800
        log_dir ""
        tmp_dir ""
    }
}

proc server_kind {} {
    return $::suite::opt(server)
}

# ---- processes -----------------------------------------------------------------------

# 1 while pid is a live process (a zombie counts as dead).
proc srvlib::pid_alive {pid} {
    set stat /proc/$pid/stat
    if {[file isdirectory /proc/self]} {
        if {[catch {open $stat r} f]} { return 0 }
        set line [read $f]
        close $f
        set state [lindex [string range $line [expr {[string last ")" $line] + 2}] end] 0]
        return [expr {$state ni {Z X}}]
    }
    return [expr {![catch {exec kill -0 $pid}]}]
}

proc srvlib::signal {pid sig} {
    catch {exec kill -$sig $pid}
}

# Waits up to ms for pid to exit; returns 1 if it did.
proc srvlib::wait_exit {pid ms} {
    set deadline [expr {[clock milliseconds] + $ms}]
    while {[pid_alive $pid]} {
        if {[clock milliseconds] > $deadline} { return 0 }
        after 20
    }
    return 1
}

# SIGTERM (or sig), then SIGKILL after the stop bound.
proc srvlib::stop_pid {pid {sig TERM}} {
    variable opt
    if {![pid_alive $pid]} { return }
    signal $pid $sig
    if {![wait_exit $pid $opt(stop_timeout)]} {
        puts "warning: server pid $pid ignored SIG$sig for $opt(stop_timeout) ms; sending SIGKILL"
        signal $pid KILL
        wait_exit $pid 5000
    }
}

# n distinct free TCP ports on 127.0.0.1, found by letting the kernel pick. The listeners
# are held until all are chosen so the ports differ.
proc srvlib::free_ports {n} {
    set socks {}
    set ports {}
    for {set i 0} {$i < $n} {incr i} {
        set s [socket -server srvlib::refuse -myaddr 127.0.0.1 0]
        lappend socks $s
        lappend ports [lindex [fconfigure $s -sockname] 2]
    }
    foreach s $socks { close $s }
    return $ports
}

proc srvlib::refuse {chan args} {
    close $chan
}

proc srvlib::binary {kind} {
    variable opt
    if {$opt(binary) ne ""} { return $opt(binary) }
    if {$kind eq "redis"} { return redis-server }
    return [file normalize [file join $srvlib::lib_dir .. .. .. bin basalt-server]]
}

# The command line for a server of kind on ports, keeping its data in dir.
proc srvlib::command {kind ports dir overrides extra} {
    set bin [binary $kind]
    if {$kind eq "redis"} {
        set argv [list $bin --port [lindex $ports 0] --bind 127.0.0.1 --dir $dir \
            --save "" --appendonly no --daemonize no]
    } else {
        lassign $ports resp grpc status pd
        set argv [list $bin --redis-addr 127.0.0.1:$resp --addr 127.0.0.1:$grpc \
            --status-addr 127.0.0.1:$status --pd-addr 127.0.0.1:$pd --data-dir $dir]
    }
    dict for {name value} $overrides {
        lappend argv --$name $value
    }
    return [concat $argv $extra]
}

proc srvlib::log_tail {log {lines 25}} {
    if {[catch {open $log r} f]} { return "(no log)" }
    set text [read $f]
    close $f
    return [join [lrange [split [string trimright $text "\n"] "\n"] end-[expr {$lines - 1}] end] "\n"]
}

# Launches server id on its ports and waits until it answers PING. Returns "" when it is
# up; otherwise stops what it started and returns why.
proc srvlib::launch {id} {
    variable S
    variable opt
    variable lib_dir
    set log $S($id,log)
    set fh [open $log a]
    puts $fh "---- [clock format [clock seconds]]: [join $S($id,argv)]"
    close $fh
    if {[catch {exec {*}$S($id,argv) < /dev/null >>& $log &} pid]} {
        return "cannot start [lindex $S($id,argv) 0]: $pid"
    }
    set S($id,pid) $pid
    set S($id,watchdog) [exec sh [file join $lib_dir watchdog.sh] [pid] $pid \
        $opt(lifetime) $S($id,root) < /dev/null >& /dev/null &]
    set deadline [expr {[clock milliseconds] + $opt(start_timeout)}]
    while 1 {
        if {![pid_alive $pid]} {
            stop_watchdog $id
            return "server exited during startup"
        }
        if {![catch {resp::connect $S($id,host) $S($id,port) -timeout 1000} c]} {
            set up [expr {![catch {$c ping} pong] && $pong eq "PONG"}]
            $c close
            if {$up} { return "" }
        }
        if {[clock milliseconds] > $deadline} {
            stop_pid $pid KILL
            stop_watchdog $id
            return "server did not answer PING within $opt(start_timeout) ms"
        }
        after 50
    }
}

proc srvlib::stop_watchdog {id} {
    variable S
    if {$S($id,watchdog) ne ""} {
        signal $S($id,watchdog) TERM
        set S($id,watchdog) ""
    }
}

proc srvlib::connect {id} {
    variable S
    set S($id,client) [resp::connect $S($id,host) $S($id,port)]
}

proc srvlib::close_clients {id} {
    variable S
    foreach c [concat [list $S($id,client)] $S($id,clients)] {
        if {$c ne ""} { catch {$c close} }
    }
    set S($id,client) ""
    set S($id,clients) {}
}

proc srvlib::stop {id {sig TERM}} {
    variable S
    close_clients $id
    if {$S($id,pid) ne ""} {
        stop_pid $S($id,pid) $sig
        set S($id,pid) ""
    }
    stop_watchdog $id
}

# Stops every server still running (the runner calls this on exit and between files).
proc srvlib::kill_all {} {
    variable S
    foreach key [array names S *,pid] {
        set id [lindex [split $key ,] 0]
        if {$S($id,pid) ne ""} { stop $id }
    }
}

# Reconnects the block connections after a test lost track of a reply stream.
proc srvlib::reconnect_all {} {
    variable S
    variable stack
    foreach id $stack {
        if {$S($id,pid) ne "" && [pid_alive $S($id,pid)]} {
            catch {$S($id,client) close}
            connect $id
        }
    }
}

proc srvlib::tmp_base {} {
    variable opt
    if {$opt(tmp_dir) ne ""} { return $opt(tmp_dir) }
    if {[info exists ::env(TMPDIR)] && [file isdirectory $::env(TMPDIR)]} {
        return $::env(TMPDIR)
    }
    return /tmp
}

# Keeps the server log of a block for later reading, when a log directory is configured.
proc srvlib::keep_log {id} {
    variable S
    variable opt
    if {$opt(log_dir) eq "" || ![file exists $S($id,log)]} { return "" }
    file mkdir $opt(log_dir)
    set name [file rootname [file tail $::suite::file]]
    set dest [file join $opt(log_dir) "$name-server$id.log"]
    file copy -force $S($id,log) $dest
    return $dest
}

# ---- the block API -------------------------------------------------------------------

proc start_server {options body} {
    variable ::srvlib::S
    set known {tags overrides args}
    dict for {k v} $options {
        if {$k ni $known} { error "start_server: unknown option '$k' (known: $known)" }
    }
    set tags [expr {[dict exists $options tags] ? [dict get $options tags] : {}}]
    set overrides [expr {[dict exists $options overrides] ? [dict get $options overrides] : {}}]
    set extra [expr {[dict exists $options args] ? [dict get $options args] : {}}]
    if {[suite::excluded $tags] ne ""} {
        if {$::suite::opt(verbose)} { suite::say "\[skip\] server block with tags {$tags}" }
        return
    }
    set kind [server_kind]
    set id [incr ::srvlib::next_id]
    set root [file join [srvlib::tmp_base] \
        "basalt-tcl.[pid].$id.[expr {[clock clicks] & 0xffffff}]"]
    file mkdir [file join $root data]
    array set S [list $id,kind $kind $id,host 127.0.0.1 $id,root $root \
        $id,dir [file join $root data] $id,log [file join $root server.log] \
        $id,pid "" $id,watchdog "" $id,client "" $id,clients {}]
    set nports [expr {$kind eq "basalt" ? 4 : 1}]
    # A port taken between choosing it and the server binding it: choose again.
    for {set attempt 1} {1} {incr attempt} {
        set S($id,ports) [srvlib::free_ports $nports]
        set S($id,port) [lindex $S($id,ports) 0]
        set S($id,argv) [srvlib::command $kind $S($id,ports) $S($id,dir) $overrides $extra]
        set why [srvlib::launch $id]
        if {$why eq "" || $attempt >= 3
            || ![regexp -nocase {in use} [srvlib::log_tail $S($id,log)]]} {
            break
        }
    }
    if {$why ne ""} {
        set kept [srvlib::keep_log $id]
        set msg "start_server: $why\n[srvlib::log_tail $S($id,log)]"
        if {$kept ne ""} { append msg "\n(log: $kept)" }
        file delete -force $root
        array unset S $id,*
        error $msg
    }
    srvlib::connect $id
    lappend ::srvlib::stack $id
    lappend ::suite::tag_stack $tags
    set failed_before $::suite::failed
    suite::anchor $body
    try {
        uplevel 1 $body
    } finally {
        suite::unanchor
        set ::suite::tag_stack [lrange $::suite::tag_stack 0 end-1]
        set ::srvlib::stack [lrange $::srvlib::stack 0 end-1]
        srvlib::stop $id
        if {$::suite::failed > $failed_before} {
            set kept [srvlib::keep_log $id]
            if {$kept ne ""} { suite::say "    server log: $kept" }
        }
        file delete -force $root
        array unset S $id,*
    }
}

# Stops the current server (SIGTERM, or SIGKILL to simulate a crash) and starts it again
# on the same ports and data directory; `r` is reconnected.
proc restart_server {args} {
    variable ::srvlib::S
    set sig TERM
    if {[llength $args] == 2 && [lindex $args 0] eq "-signal"} {
        set sig [lindex $args 1]
    } elseif {[llength $args]} {
        error "usage: restart_server ?-signal TERM|KILL?"
    }
    set id [lindex $::srvlib::stack end]
    if {$id eq ""} { error "restart_server outside start_server" }
    srvlib::stop $id $sig
    set why [srvlib::launch $id]
    if {$why ne ""} {
        error "restart_server: $why\n[srvlib::log_tail $S($id,log)]"
    }
    srvlib::connect $id
}

proc srvlib::id_at {level} {
    variable stack
    if {![string is integer -strict $level] || $level > 0} {
        error "bad server level '$level': 0 is the current server, -1 the one around it"
    }
    set id [lindex $stack end+$level]
    if {$id eq ""} { error "no server at level $level" }
    return $id
}

proc srv {args} {
    variable ::srvlib::S
    switch [llength $args] {
        1 { set level 0; set key [lindex $args 0] }
        2 { lassign $args level key }
        default { error "usage: srv ?level? key" }
    }
    set id [srvlib::id_at $level]
    switch -exact -- $key {
        grpc_port   { return [lindex $S($id,ports) 1] }
        status_port { return [lindex $S($id,ports) 2] }
        pd_port     { return [lindex $S($id,ports) 3] }
    }
    if {$key ni {host port pid dir log kind client root}} {
        error "srv: unknown key '$key'"
    }
    return $S($id,$key)
}

proc r {args} {
    set level 0
    if {[string is integer -strict [lindex $args 0]]} {
        set level [lindex $args 0]
        set args [lrange $args 1 end]
    }
    tailcall [srv $level client] {*}$args
}

proc new_client {args} {
    variable ::srvlib::S
    set opts [dict merge {-defer 0 -level 0} $args]
    set id [srvlib::id_at [dict get $opts -level]]
    set c [resp::connect $S($id,host) $S($id,port) -defer [dict get $opts -defer]]
    lappend S($id,clients) $c
    return $c
}

proc deferred_client {args} {
    return [new_client {*}$args -defer 1]
}
