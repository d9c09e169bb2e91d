# client.tcl -- CLIENT ID, SETNAME, GETNAME, LIST, INFO, KILL, NO-EVICT, REPLY, SETINFO,
# NO-TOUCH and HELP, with Redis 7's formats and error texts. SETINFO and NO-TOUCH are Redis
# 7.2 commands (the reference redis-server may be 7.0), so their tests are Basalt-only, and
# CLIENT LIST lines are matched up to "resp=N" (7.2 appends lib-name= and lib-ver=).

# The fields of a CLIENT LIST line, in Redis 7's order, as a regexp.
set client_line_re {^id=(\d+) addr=(\S+):(\d+) laddr=(\S+):(\d+) fd=\d+ name=(\S*) age=\d+ idle=\d+ flags=(\w+) db=(\d+) sub=0 psub=0 ssub=0 multi=-1 qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=0 rbs=\d+ rbp=\d+ obl=\d+ oll=\d+ omem=\d+ tot-mem=\d+ events=r?w? cmd=(\S+) user=default redir=-1 resp=([23])( lib-name=\S* lib-ver=\S*)?$}

# The CLIENT LIST line of the connection with this id.
proc client_line {list id} {
    foreach line [split [string trimright $list "\n"] "\n"] {
        if {[string match "id=$id *" $line]} { return $line }
    }
    return ""
}

start_server {tags {"client"}} {
    test {CLIENT ID is a positive integer, different per connection} {
        set a [r client id]
        set b [[new_client] client id]
        list [expr {$a > 0}] [expr {$b != $a}]
    } {1 1}

    test {CLIENT SETNAME and GETNAME} {
        set c [new_client]
        set name0 [$c client getname]
        set t [$c last_type]
        $c client setname my-name_1
        set name1 [$c client getname]
        $c client setname ""
        list $name0 $t $name1 [$c client getname]
    } {{} null my-name_1 {}}

    test {CLIENT SETNAME refuses spaces, newlines and special characters} {
        set e {}
        foreach name {"a b" "a\nb" "\x01" "\xff"} {
            catch {r client setname $name} err
            lappend e $err
        }
        lsort -unique $e
    } {{ERR Client names cannot contain spaces, newlines or special characters.}}

    test {CLIENT SETNAME and GETNAME arity} {
        catch {r client setname} e1
        catch {r client setname a b} e2
        catch {r client getname x} e3
        list $e1 $e2 $e3
    } {{ERR wrong number of arguments for 'client|setname' command} {ERR wrong number of arguments for 'client|setname' command} {ERR wrong number of arguments for 'client|getname' command}}

    test {CLIENT INFO: one line in CLIENT LIST's format} {
        set c [new_client]
        $c client setname infoname
        $c select 2
        set info [$c client info]
        set ok [regexp $::client_line_re [string trimright $info "\n"] -> id addr port laddr lport name flags db cmd resp]
        list $ok [string index $info end] [expr {$id == [$c client id]}] $addr $name $flags $db $cmd $resp
    } [list 1 "\n" 1 127.0.0.1 infoname N 2 client|info 2]

    test {CLIENT LIST lists every connection, one line each} {
        set c1 [new_client]
        set c2 [new_client]
        $c1 client setname first
        $c2 client setname second
        set list [r client list]
        set l1 [client_line $list [$c1 client id]]
        set l2 [client_line $list [$c2 client id]]
        set lr [client_line $list [r client id]]
        list [regexp $::client_line_re $l1] [regexp $::client_line_re $l2] \
            [string match "* name=first *" $l1] [string match "* name=second *" $l2] \
            [string match "* cmd=client|list *" $lr] [string index $list end]
    } [list 1 1 1 1 1 "\n"]

    test {CLIENT LIST TYPE and ID filters} {
        set c [new_client]
        set id [$c client id]
        set normal [r client list type normal]
        set pubsub [r client list type pubsub]
        set one [r client list id $id]
        set none [r client list id 999999]
        list [expr {[client_line $normal $id] ne ""}] $pubsub \
            [llength [split [string trim $one] "\n"]] [expr {[client_line $one $id] ne ""}] $none
    } {1 {} 1 1 {}}

    test {CLIENT LIST errors} {
        catch {r client list type foo} e1
        catch {r client list id abc} e2
        catch {r client list foo} e3
        catch {r client list type} e4
        list $e1 $e2 $e3 $e4
    } {{ERR Unknown client type 'foo'} {ERR Invalid client ID} {ERR syntax error} {ERR syntax error}}

    test {CLIENT KILL ID closes that connection} {
        set c [new_client]
        set id [$c client id]
        set n [r client kill id $id]
        list $n [$c is_closed 5000] [r client kill id $id]
    } {1 1 0}

    test {CLIENT KILL by address, old and new forms} {
        set c [new_client]
        regexp { addr=(\S+) } [$c client info] -> addr
        set ok [r client kill $addr]
        set closed [$c is_closed 5000]
        set c2 [new_client]
        regexp { addr=(\S+) } [$c2 client info] -> addr2
        set n [r client kill addr $addr2]
        list $ok $closed $n [$c2 is_closed 5000]
    } {OK 1 1 1}

    test {CLIENT KILL LADDR, TYPE and USER filters} {
        set c [new_client]
        regexp { laddr=(\S+) } [$c client info] -> laddr
        # Skips the caller by default.
        set n [r client kill laddr $laddr]
        set closed [$c is_closed 5000]
        set none [r client kill type pubsub]
        list [expr {$n >= 1}] $closed $none [r ping]
    } {1 1 0 PONG}

    test {CLIENT KILL SKIPME no kills the caller after its reply} {
        set c [new_client]
        set id [$c client id]
        set n [$c client kill id $id skipme no]
        list $n [$c is_closed 5000]
    } {1 1}

    test {CLIENT KILL errors} {
        set e {}
        foreach args {
            {1.2.3.4:5} {id 0} {id abc} {type foo} {user bob} {id 1 skipme} {id 1 skipme maybe}
            {foo bar}
        } {
            catch {r client kill {*}$args} err
            lappend e $err
        }
        catch {r client kill} err
        lappend e $err
    } {{ERR No such client} {ERR client-id should be greater than 0} {ERR client-id should be greater than 0} {ERR Unknown client type 'foo'} {ERR No such user 'bob'} {ERR syntax error} {ERR syntax error} {ERR syntax error} {ERR wrong number of arguments for 'client|kill' command}}

    test {CLIENT KILL USER default counts every other connection} {
        set c [new_client]
        set n [r client kill user default]
        list [expr {$n >= 1}] [$c is_closed 5000] [r ping]
    } {1 1 PONG}

    test {CLIENT NO-EVICT on and off} {
        set c [new_client]
        set a [$c client no-evict on]
        set f [regexp { flags=\w*e\w* } [$c client info]]
        set b [$c client no-evict OFF]
        catch {$c client no-evict maybe} e
        list $a $f $b $e
    } {OK 1 OK {ERR syntax error}}

    test {CLIENT REPLY OFF and ON} {
        set c [new_client]
        $c write "CLIENT REPLY OFF\r\nSET reply:k 1\r\nGET reply:k\r\nNOSUCH\r\nCLIENT REPLY ON\r\nGET reply:k\r\n"
        list [$c read] [$c read]
    } {OK 1}

    test {CLIENT REPLY SKIP skips the next reply only} {
        set c [new_client]
        $c write "CLIENT REPLY SKIP\r\nECHO skipped\r\nECHO shown\r\n"
        $c read
    } shown

    test {CLIENT REPLY errors} {
        catch {r client reply maybe} e1
        catch {r client reply} e2
        list $e1 $e2
    } {{ERR syntax error} {ERR wrong number of arguments for 'client|reply' command}}

    test {CLIENT with an unknown subcommand, and alone} {
        catch {r client foo} e1
        catch {r client} e2
        list $e1 $e2
    } {{ERR unknown subcommand 'foo'. Try CLIENT HELP.} {ERR wrong number of arguments for 'client' command}}

    test {CLIENT HELP} {
        set h [r client help]
        list [lindex $h 0] [lindex $h end-1] [lindex $h end] [r last_type]
    } {{CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:} HELP {    Prints this help.} array}
}

start_server {tags {client basalt-only}} {
    test {CLIENT SETINFO LIB-NAME and LIB-VER show in CLIENT INFO} {
        set c [new_client]
        $c client setinfo lib-name redis-py
        $c client setinfo LIB-VER 5.0.1
        set info [$c client info]
        $c client setinfo lib-name ""
        list [regexp { lib-name=redis-py lib-ver=5\.0\.1\n$} $info] \
            [regexp { lib-name= lib-ver=5\.0\.1\n$} [$c client info]]
    } {1 1}

    test {CLIENT SETINFO errors} {
        catch {r client setinfo lib-name "a b"} e1
        catch {r client setinfo foo bar} e2
        catch {r client setinfo lib-name} e3
        list $e1 $e2 $e3
    } {{ERR lib-name cannot contain spaces, newlines or special characters.} {ERR Unrecognized option 'foo'} {ERR wrong number of arguments for 'client|setinfo' command}}

    test {CLIENT NO-TOUCH} {
        set c [new_client]
        list [$c client no-touch on] [regexp { flags=\w*T\w* } [$c client info]] \
            [$c client no-touch off]
    } {OK 1 OK}
}
