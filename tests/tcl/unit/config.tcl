# config.tcl -- CONFIG GET, SET, RESETSTAT, HELP: the Redis-named settings Basalt has, the
# encoding tunables it accepts without effect, Redis's error texts and CONFIG SET's
# all-or-nothing rule. What Basalt answers differently on purpose (persistence, its own
# dotted settings) is tagged basalt-only.

start_server {tags {"config"}} {
    test {CONFIG GET of the Redis defaults} {
        set d [r config get maxclients]
        foreach p {timeout databases proto-max-bulk-len tcp-keepalive client-query-buffer-limit
                   client-output-buffer-limit requirepass} {
            lappend d {*}[r config get $p]
        }
        set d
    } {maxclients 10000 timeout 0 databases 16 proto-max-bulk-len 536870912 tcp-keepalive 300 client-query-buffer-limit 1073741824 client-output-buffer-limit {normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60} requirepass {}}

    test {CONFIG GET reports an exact name as it was spelled} {
        r config get MaxClients
    } {MaxClients 10000}

    test {CONFIG GET with a glob pattern} {
        set d [r config get *max-*-entries*]
        list [dict get $d hash-max-listpack-entries] [dict get $d hash-max-ziplist-entries] \
            [dict get $d zset-max-listpack-entries] [dict get $d set-max-intset-entries] \
            [dict exists $d timeout]
    } {512 512 128 512 0}

    test {CONFIG GET with several patterns reports each parameter once} {
        set d [r config get timeout time* maxclients]
        list [llength $d] [dict get $d timeout] [dict get $d maxclients]
    } {4 0 10000}

    test {CONFIG GET of an unknown parameter is empty} {
        r config get no-such-parameter
    } {}

    test {CONFIG GET needs a pattern} {
        catch {r config get} e
        set e
    } {ERR wrong number of arguments for 'config|get' command}

    test {CONFIG SET and GET of the settings Basalt acts on} {
        r config set timeout 100 maxclients 5000 tcp-keepalive 60
        set d [r config get timeout]
        lappend d {*}[r config get maxclients] {*}[r config get tcp-keepalive]
        r config set timeout 0 maxclients 10000 tcp-keepalive 300
        set d
    } {timeout 100 maxclients 5000 tcp-keepalive 60}

    test {CONFIG SET of memory values with units} {
        r config set proto-max-bulk-len 2mb client-query-buffer-limit 1gb
        set d [r config get proto-max-bulk-len]
        lappend d {*}[r config get client-query-buffer-limit]
        r config set proto-max-bulk-len 512mb client-query-buffer-limit 1073741824
        set d
    } {proto-max-bulk-len 2097152 client-query-buffer-limit 1073741824}

    test {CONFIG SET client-output-buffer-limit, one class at a time} {
        r config set client-output-buffer-limit "normal 1mb 2mb 3"
        set v [lindex [r config get client-output-buffer-limit] 1]
        r config set client-output-buffer-limit "normal 0 0 0"
        set v
    } {normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60}

    test {CONFIG SET errors} {
        set e {}
        foreach args {
            {foo bar} {maxclients abc} {maxclients 0} {maxclients 5.5} {timeout -1}
            {databases 3} {timeout 1 timeout 2} {proto-max-bulk-len 1.5mb}
            {proto-max-bulk-len 100} {activerehashing maybe} {list-compress-depth -1}
            {client-output-buffer-limit "normal 1 2"} {client-output-buffer-limit "foo 1 2 3"}
            {timeout 1 maxclients}
        } {
            catch {r config set {*}$args} err
            lappend e $err
        }
        join $e "\n"
    } [join {
        {ERR Unknown option or number of arguments for CONFIG SET - 'foo'}
        {ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer}
        {ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive}
        {ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer}
        {ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive}
        {ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config}
        {ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter}
        {ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be a memory value}
        {ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive}
        {ERR CONFIG SET failed (possibly related to argument 'activerehashing') - argument must be 'yes' or 'no'}
        {ERR CONFIG SET failed (possibly related to argument 'list-compress-depth') - argument must be between 0 and 2147483647 inclusive}
        {ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration.}
        {ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration.}
        {ERR syntax error}
    } "\n"]

    test {CONFIG SET arity} {
        catch {r config set timeout} e
        set e
    } {ERR wrong number of arguments for 'config|set' command}

    test {CONFIG SET applies all pairs or none} {
        r config set timeout 7
        catch {r config set timeout 8 maxclients 0} e
        list [lindex [r config get timeout] 1] [lindex [r config get maxclients] 1]
    } {7 10000}

    test {Encoding tunables are accepted and reported back} {
        set names {
            hash-max-listpack-entries hash-max-listpack-value list-max-listpack-size
            list-compress-depth set-max-intset-entries zset-max-listpack-entries
            zset-max-listpack-value stream-node-max-entries stream-node-max-bytes
            hll-sparse-max-bytes
        }
        set vals {100 32 -3 2 300 64 32 50 2048 1500}
        set cmd {}
        foreach n $names v $vals { lappend cmd $n $v }
        r config set {*}$cmd
        set got {}
        foreach n $names { lappend got [lindex [r config get $n] 1] }
        r config set hash-max-listpack-entries 512 hash-max-listpack-value 64 \
            list-max-listpack-size -2 list-compress-depth 0 set-max-intset-entries 512 \
            zset-max-listpack-entries 128 zset-max-listpack-value 64 \
            stream-node-max-entries 100 stream-node-max-bytes 4096 hll-sparse-max-bytes 3000
        expr {$got eq $vals}
    } 1

    test {The ziplist names are aliases of the listpack ones} {
        r config set hash-max-ziplist-entries 77 zset-max-ziplist-value 33 list-max-ziplist-size 5
        set d [list [lindex [r config get hash-max-listpack-entries] 1] \
            [lindex [r config get zset-max-listpack-value] 1] \
            [lindex [r config get list-max-listpack-size] 1]]
        r config set hash-max-listpack-entries 512 zset-max-listpack-value 64 list-max-listpack-size -2
        set d
    } {77 33 5}

    test {Boolean tunables} {
        r config set activerehashing no lazyfree-lazy-user-del yes
        set d [list [lindex [r config get activerehashing] 1] [lindex [r config get lazyfree-lazy-user-del] 1]]
        r config set activerehashing yes lazyfree-lazy-user-del no
        set d
    } {no yes}

    test {proto-max-bulk-len is enforced at once} {
        r config set proto-max-bulk-len 1mb
        set c [new_client]
        $c write "*2\r\n\$4\r\nECHO\r\n\$1048577\r\n"
        catch {$c read} e
        set closed [$c is_closed 5000]
        set ok [r echo [string repeat x 1048576]]
        r config set proto-max-bulk-len 512mb
        list $e $closed [string length $ok]
    } {{ERR Protocol error: invalid bulk length} 1 1048576}

    test {client-query-buffer-limit closes a connection sending too much} {
        r config set client-query-buffer-limit 1mb
        set c [new_client]
        catch {
            $c write "*3\r\n\$3\r\nSET\r\n\$2\r\nqb\r\n\$3000000\r\n"
            $c write [string repeat q 2000000]
            $c flush
        }
        set closed [$c is_closed 10000]
        r config set client-query-buffer-limit 1gb
        list $closed [r exists qb]
    } {1 0}

    test {CONFIG RESETSTAT} {
        r ping
        r config resetstat
        set stats [r info stats]
        regexp {total_commands_processed:(\d+)} $stats -> n
        list [expr {$n <= 2}] [r last_type]
    } {1 bulk}

    test {CONFIG RESETSTAT arity, unknown subcommand, HELP} {
        catch {r config resetstat x} e1
        catch {r config foo} e2
        set h [r config help]
        list $e1 $e2 [lindex $h 0] [lindex $h end]
    } {{ERR wrong number of arguments for 'config|resetstat' command} {ERR unknown subcommand 'foo'. Try CONFIG HELP.} {CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:} {    Prints this help.}}
}

start_server {tags {config basalt-only}} {
    test {Persistence settings are answered truthfully} {
        set d {}
        foreach p {save appendonly appendfsync maxmemory maxmemory-policy} {
            lappend d {*}[r config get $p]
        }
        set d
    } {save {} appendonly yes appendfsync always maxmemory 0 maxmemory-policy noeviction}

    test {Persistence settings cannot be changed, with the reason} {
        catch {r config set appendonly no} e1
        catch {r config set maxmemory 100mb} e2
        list $e1 $e2 [r config set appendonly yes save ""]
    } {{ERR CONFIG SET failed (possibly related to argument 'appendonly') - Basalt always logs every write (Raft log)} {ERR CONFIG SET failed (possibly related to argument 'maxmemory') - Basalt keeps data on disk and has no memory limit} OK}

    test {Basalt's own settings under their TOML names, read-only} {
        set d [r config get raftstore.raft-base-tick-interval]
        catch {r config set raftstore.raft-base-tick-interval 2s} e
        list [llength $d] [lindex $d 0] $e
    } {2 raftstore.raft-base-tick-interval {ERR CONFIG SET failed (possibly related to argument 'raftstore.raft-base-tick-interval') - can't set immutable config}}

    test {CONFIG SET timeout shows in redis.timeout too} {
        r config set timeout 42
        set v [lindex [r config get redis.timeout] 1]
        r config set timeout 0
        set v
    } 42

    test {CONFIG GET * covers Redis names and Basalt settings} {
        set d [r config get *]
        list [dict exists $d maxclients] [dict exists $d storage.data-dir] \
            [dict exists $d set-max-listpack-entries]
    } {1 1 1}

    test {CONFIG REWRITE is refused} {
        catch {r config rewrite} e
        string match {ERR CONFIG REWRITE is not supported*} $e
    } 1
}
