# command.tcl -- COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS, HELP): what
# redis-cli and client libraries read to learn the command set. Checked for the commands
# both servers have, in Redis 7's reply layout.

start_server {tags {"command"}} {
    test {COMMAND COUNT is the number of entries COMMAND lists} {
        set n [r command count]
        list [expr {$n > 20}] [expr {$n == [llength [r command]]}]
    } {1 1}

    test {COMMAND INFO of single-key, multi-key and keyless commands} {
        set out {}
        foreach c {get set mset del ping echo select} {
            lappend out [lrange [lindex [r command info $c] 0] 0 5]
        }
        join $out "\n"
    } [join {
        {get 2 {readonly fast} 1 1 1}
        {set -3 {write denyoom} 1 1 1}
        {mset -3 {write denyoom} 1 -1 2}
        {del -2 write 1 -1 1}
        {ping -1 fast 0 0 0}
        {echo 2 {loading stale fast} 0 0 0}
        {select 2 {loading stale fast} 0 0 0}
    } "\n"]

    test {COMMAND INFO: ACL categories, tips, key specs, subcommands} {
        set get [lindex [r command info get] 0]
        set spec [lindex $get 8 0]
        list [llength $get] [lindex $get 6] [dict get $spec begin_search] [dict get $spec find_keys] \
            [lindex $get 9]
    } {10 {@read @string @fast} {type index spec {index 1}} {type range spec {lastkey 0 keystep 1 limit 0}} {}}

    test {COMMAND INFO of a subcommand by its full name} {
        lrange [lindex [r command info client|list] 0] 0 6
    } {client|list -2 {admin noscript loading stale} 0 0 0 {@admin @slow @dangerous @connection}}

    test {COMMAND INFO of a container lists its subcommands} {
        set names {}
        foreach sub [lindex [r command info client] 0 9] { lappend names [lindex $sub 0] }
        list [expr {"client|list" in $names}] [expr {"client|kill" in $names}] \
            [lindex [r command info client] 0 1]
    } {1 1 -2}

    test {COMMAND INFO of unknown commands is null} {
        set i [r command info nosuch get]
        list [llength $i] [lindex $i 0] [lindex $i 1 0]
    } {2 {} get}

    test {COMMAND DOCS} {
        set d [r command docs get]
        set doc [dict get $d get]
        list [dict keys $d] [dict get $doc since] [dict get $doc group] \
            [expr {[dict get $doc summary] ne ""}]
    } {get 1.0.0 string 1}

    test {COMMAND DOCS of a container has its subcommands} {
        set doc [dict get [r command docs config] config]
        expr {[dict exists $doc subcommands] && [dict exists [dict get $doc subcommands] config|get]}
    } 1

    test {COMMAND DOCS leaves unknown names out} {
        dict keys [r command docs nosuch echo]
    } echo

    test {COMMAND LIST and its filters} {
        set all [r command list]
        set pat [r command list filterby pattern client*]
        set cat [r command list filterby aclcat connection]
        list [expr {"get" in $all}] [expr {"client|list" in $all}] \
            [expr {"client" in $pat && "client|id" in $pat && "get" ni $pat}] \
            [expr {"ping" in $cat && "get" ni $cat}] [r command list filterby module nosuch]
    } {1 1 1 1 {}}

    test {COMMAND LIST syntax errors} {
        catch {r command list filterby} e1
        catch {r command list filterby foo x} e2
        catch {r command list foo} e3
        list $e1 $e2 $e3
    } {{ERR syntax error} {ERR syntax error} {ERR syntax error}}

    test {COMMAND GETKEYS} {
        list [r command getkeys set a b] [r command getkeys mset a 1 b 2] \
            [r command getkeys del x y z] [r command getkeys get k]
    } {a {a b} {x y z} k}

    test {COMMAND GETKEYS errors} {
        set e {}
        foreach args {{ping x} {nosuch x} {get a b} {set a}} {
            catch {r command getkeys {*}$args} err
            lappend e $err
        }
        catch {r command getkeys get} err
        lappend e $err
    } {{ERR The command has no key arguments} {ERR Invalid command specified} {ERR Invalid number of arguments specified for command} {ERR Invalid number of arguments specified for command} {ERR wrong number of arguments for 'command|getkeys' command}}

    test {COMMAND errors and HELP} {
        catch {r command foo} e1
        catch {r command count x} e2
        set h [r command help]
        list $e1 $e2 [lindex $h 0] [lindex $h end]
    } {{ERR unknown subcommand 'foo'. Try COMMAND HELP.} {ERR wrong number of arguments for 'command|count' command} {COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:} {    Prints this help.}}
}
