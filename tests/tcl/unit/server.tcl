# server.tcl -- server commands and limits: TIME, SHUTDOWN, maxclients, the idle timeout,
# client-output-buffer-limit, DEBUG SLEEP (Basalt-only: Redis refuses DEBUG unless
# enable-debug-command is set).

start_server {tags {"server"}} {
    test {TIME is seconds and microseconds as bulk strings} {
        set t [r time]
        lassign $t s us
        list [llength $t] [regexp {^\d+$} $s] [regexp {^\d+$} $us] [expr {$us < 1000000}] \
            [expr {abs($s - [clock seconds]) < 600}]
    } {2 1 1 1 1}

    test {TIME arity} {
        catch {r time now} e
        set e
    } {ERR wrong number of arguments for 'time' command}

    test {maxclients refuses connections beyond the limit} {
        set n [dict get [r config get maxclients] maxclients]
        set open [regexp -all -line {^id=} [r client list]]
        r config set maxclients [expr {$open + 1}]
        set c1 [new_client]
        $c1 ping
        set c2 [new_client]
        catch {$c2 ping} e
        set closed [$c2 is_closed 5000]
        r config set maxclients $n
        list $e $closed [regexp {rejected_connections:[1-9]} [r info stats]]
    } {{ERR max number of clients reached} 1 1}

    test {timeout closes idle connections, not busy ones} {
        r config set timeout 1
        set idle [new_client]
        $idle ping
        set busy [new_client]
        # Redis checks idle clients from its cron; allow a few seconds, keeping `r` and
        # `busy` active meanwhile.
        set closed 0
        for {set i 0} {$i < 40 && !$closed} {incr i} {
            $busy ping
            r ping
            set closed [$idle is_closed 200]
        }
        set alive [$busy ping]
        r config set timeout 0
        list $closed $alive
    } {1 PONG}

    test {timeout 0 keeps idle connections} {
        set c [new_client]
        $c ping
        after 1500
        $c ping
    } PONG

    test {client-output-buffer-limit normal closes a client over the hard limit} {
        r config set client-output-buffer-limit "normal 100kb 0 0"
        set c [new_client]
        set v [string repeat x 500000]
        catch {$c echo $v} e
        set closed [$c is_closed 5000]
        r config set client-output-buffer-limit "normal 0 0 0"
        list $closed [string length [r echo $v]]
    } {1 500000}

    test {tcp-keepalive can be changed} {
        r config set tcp-keepalive 10
        set v [r config get tcp-keepalive]
        r config set tcp-keepalive 300
        set v
    } {tcp-keepalive 10}

    test {SHUTDOWN ABORT when no shutdown is going on, and SHUTDOWN syntax} {
        catch {r shutdown abort} e1
        catch {r shutdown nosave save} e2
        catch {r shutdown foo} e3
        catch {r shutdown abort nosave} e4
        list $e1 $e2 $e3 $e4
    } {{ERR No shutdown in progress.} {ERR syntax error} {ERR syntax error} {ERR syntax error}}
}

start_server {tags {"server"}} {
    test {SHUTDOWN stops the server; the client sees the connection close} {
        set pid [srv pid]
        catch {r shutdown nosave} e
        set gone 0
        for {set i 0} {$i < 200 && !$gone} {incr i} {
            if {![srvlib::pid_alive $pid]} { set gone 1 } else { after 50 }
        }
        list [string match *closed* $e] $gone
    } {1 1}
}

start_server {tags {server basalt-only}} {
    test {DEBUG SLEEP delays the reply} {
        r debug sleep 0.01
    } OK

    test {DEBUG SLEEP 0 and an unparsable number answer at once} {
        list [r debug sleep 0] [r debug sleep abc]
    } {OK OK}

    test {DEBUG with an unknown subcommand} {
        catch {r debug jmap} e1
        catch {r debug} e2
        list $e1 $e2
    } {{ERR unknown subcommand or wrong number of arguments for 'jmap'. Try DEBUG HELP.} {ERR wrong number of arguments for 'debug' command}}

    test {Other connections are served while one sleeps} {
        set c [deferred_client]
        $c debug sleep 1
        $c flush
        set t [r ping]
        list $t [$c read]
    } {PONG OK}
}
