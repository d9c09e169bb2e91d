# info.tcl -- INFO: Redis's sections and field:value lines with CRLF ends, section
# selection, the statistics that move (commands, connections, errors, per-command), the
# keyspace counts, and Basalt's own section.

# "field:value" of an INFO text, or "" when absent.
proc info_field {text field} {
    if {[regexp "(?n)^$field:(\[^\r\]*)\r\$" $text -> v]} { return $v }
    return ""
}

# An empty store counted now, with a 1 s count interval from here on; then one key written
# in database db (the count does not know it yet).
proc counted_then_write {db} {
    r flushall
    r config set info-keyspace-interval 0
    r info keyspace
    r config set info-keyspace-interval 1
    r select $db
    r set k v
    r select 0
}

proc info_headers {text} {
    return [regexp -all -inline {(?n)^# \w+} $text]
}

start_server {tags {"info"}} {
    test {INFO has Redis's default sections in Redis's order} {
        set h [info_headers [r info]]
        lrange $h 0 10
    } {{# Server} {# Clients} {# Memory} {# Persistence} {# Stats} {# Replication} {# CPU} {# Modules} {# Errorstats} {# Cluster} {# Keyspace}}

    test {INFO lines are field:value, sections, or blank, each ended by CRLF} {
        set text [r info everything]
        set bad {}
        if {[string range $text end-1 end] ne "\r\n"} { lappend bad "(no CRLF at the end)" }
        foreach line [split [string range $text 0 end-1] "\n"] {
            if {[string index $line end] ne "\r"} { lappend bad "(LF without CR) $line" }
            set line [string trimright $line "\r"]
            if {$line ne "" && ![regexp {^# \w+$} $line] && ![regexp {^[a-z0-9_|-]+:} $line]} {
                lappend bad $line
            }
        }
        set bad
    } {}

    test {INFO server fields} {
        set s [r info server]
        list [string match {7.*} [info_field $s redis_version]] [info_field $s redis_mode] \
            [info_field $s tcp_port] [info_field $s process_id] \
            [regexp {^[0-9a-f]{40}$} [info_field $s run_id]] \
            [regexp {^\d+$} [info_field $s uptime_in_seconds]] \
            [regexp {^\d+$} [info_field $s server_time_usec]] \
            [llength [info_headers $s]]
    } [list 1 standalone [srv port] [srv pid] 1 1 1 1]

    test {INFO with several sections, in any case} {
        info_headers [r info CLIENTS server]
    } {{# Server} {# Clients}}

    test {INFO of an unknown section is empty} {
        r info no-such-section
    } {}

    test {INFO clients counts connections} {
        set n0 [info_field [r info clients] connected_clients]
        set c1 [new_client]
        set c2 [new_client]
        $c1 ping
        $c2 ping
        set n1 [info_field [r info clients] connected_clients]
        list [expr {$n1 - $n0}] [info_field [r info clients] maxclients] \
            [info_field [r info clients] blocked_clients]
    } {2 10000 0}

    test {INFO memory and persistence fields exist} {
        set m [r info memory]
        set p [r info persistence]
        list [regexp {^\d+$} [info_field $m used_memory]] \
            [expr {[info_field $m used_memory_human] ne ""}] [info_field $m maxmemory] \
            [info_field $m maxmemory_policy] [info_field $p loading]
    } {1 1 0 noeviction 0}

    test {INFO stats counts commands and connections} {
        set s0 [r info stats]
        r ping
        r ping
        set c [new_client]
        $c ping
        set s1 [r info stats]
        list [expr {[info_field $s1 total_commands_processed] - [info_field $s0 total_commands_processed]}] \
            [expr {[info_field $s1 total_connections_received] - [info_field $s0 total_connections_received]}]
    } {4 1}

    test {INFO errorstats and total_error_replies} {
        r config resetstat
        catch {r nosuchcommand}
        catch {r get}
        catch {r auth a b c}
        set s [r info errorstats]
        list [info_field $s errorstat_ERR] [info_field [r info stats] total_error_replies]
    } {count=3 3}

    test {INFO commandstats: calls, rejected and failed calls} {
        r config resetstat
        r set cs:k notanumber
        r get cs:k
        r get cs:k
        catch {r get}
        catch {r incr cs:k}
        set s [r info commandstats]
        list [regexp {cmdstat_get:calls=2,usec=\d+,usec_per_call=[\d.]+,rejected_calls=1,failed_calls=0} $s] \
            [regexp {cmdstat_incr:calls=1,usec=\d+,usec_per_call=[\d.]+,rejected_calls=0,failed_calls=1} $s] \
            [regexp {cmdstat_set:calls=1,} $s]
    } {1 1 1}

    test {INFO commandstats names subcommands with a bar} {
        r client id
        regexp {cmdstat_client\|id:calls=} [r info commandstats]
    } 1

    test {INFO all includes commandstats, INFO default does not} {
        r ping
        list [expr {"# Commandstats" in [info_headers [r info all]]}] \
            [expr {"# Commandstats" in [info_headers [r info default]]}] \
            [expr {"# Commandstats" in [info_headers [r info]]}]
    } {1 0 0}

    test {INFO keyspace counts the keys of each database} {
        # Basalt counts at most every info-keyspace-interval seconds; 0: at every INFO.
        if {[server_kind] eq "basalt"} { r config set info-keyspace-interval 0 }
        r flushall
        r select 3
        r mset ks:a 1 ks:b 2 ks:c 3
        r select 0
        r set ks:z 1
        set k [r info keyspace]
        list [regexp {(?n)^db0:keys=1,expires=\d+,avg_ttl=\d+\r$} $k] \
            [regexp {(?n)^db3:keys=3,expires=\d+,avg_ttl=\d+\r$} $k] \
            [regexp {db1:} $k]
    } {1 1 0}

    test {INFO keyspace of an empty server has only its header} {
        r flushall
        r info keyspace
    } "# Keyspace\r\n"
}

start_server {tags {info basalt-only}} {
    test {info-keyspace-interval: CONFIG GET and SET, 5 by default} {
        assert_equal [r config get info-keyspace-interval] {info-keyspace-interval 5}
        assert_error {ERR CONFIG SET failed (possibly related to argument 'info-keyspace-interval') - argument must be between 0 and 86400 inclusive} {
            r config set info-keyspace-interval 86401
        }
        assert_error {*argument couldn't be parsed into an integer*} {
            r config set info-keyspace-interval x
        }
        r config set info-keyspace-interval 7
        r config get info-keyspace-interval
    } {info-keyspace-interval 7}

    test {INFO keyspace answers the last count within the interval; DBSIZE stays exact} {
        r flushall
        r select 5
        r set before 1
        r config set info-keyspace-interval 0
        # Counted for this INFO: the newest count there is.
        assert_match "*db5:keys=1,*" [r info keyspace]
        r config set info-keyspace-interval 3600
        r set after 1
        # Within the interval: the count above, without the new key.
        set k [r info keyspace]
        set out [list [regexp {db5:keys=1,} $k] [r dbsize]]
        r config set info-keyspace-interval 0
        lappend out [regexp {db5:keys=2,} [r info keyspace]]
        r select 0
        set out
    } {1 2 1}

    test {INFO keyspace catches up once the interval has passed} {
        counted_then_write 6
        # A count begins when an INFO finds the last one a second old; polling sees it.
        wait_for_condition 100 50 {[string match "*db6:keys=1,*" [r info keyspace]]}
    }

    test {INFO keyspace waits for a fresh count after a quiet spell} {
        counted_then_write 7
        # The last count began over 2 intervals ago: this INFO waits for a new one.
        after 2100
        r info keyspace
    } "# Keyspace\r\ndb7:keys=1,expires=0,avg_ttl=0\r\n"

    test {INFO basalt: store, Regions, leaders, Raft and storage figures} {
        r set b:k v
        set b [r info basalt]
        list [info_headers $b] [expr {[info_field $b store_id] > 0}] \
            [expr {[info_field $b regions] >= 1}] [expr {[info_field $b leaders] >= 1}] \
            [expr {[info_field $b raft_proposals] >= 1}] \
            [expr {[info_field $b raft_entries_applied] >= 1}] \
            [regexp {^\d+$} [info_field $b storage_available]]
    } {{{# Basalt}} 1 1 1 1 1 1}

    test {INFO server names Basalt too} {
        expr {[info_field [r info server] basalt_version] ne ""}
    } 1

    test {INFO default ends with the keyspace and basalt sections} {
        lrange [info_headers [r info]] end-1 end
    } {{# Keyspace} {# Basalt}}
}
