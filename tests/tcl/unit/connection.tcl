# connection.tcl -- the connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT,
# with Redis 7's arguments, replies and error texts. CLIENT is in client.tcl.

start_server {tags {"connection"}} {
    test {PING with and without a message} {
        list [r ping] [r ping "hello world"] [r ping ""]
    } {PONG {hello world} {}}

    test {PING with two arguments is an arity error} {
        catch {r ping a b} e
        set e
    } {ERR wrong number of arguments for 'ping' command}

    test {ECHO of binary data, and its arity} {
        set a [r echo "a\x00b\r\nc"]
        catch {r echo} e1
        catch {r echo a b} e2
        list $a $e1 $e2
    } [list "a\x00b\r\nc" {ERR wrong number of arguments for 'echo' command} \
           {ERR wrong number of arguments for 'echo' command}]

    test {QUIT answers OK and closes; nothing after it runs} {
        set c [new_client]
        $c write "SET quit:after 0\r\nQUIT\r\nSET quit:after 1\r\n"
        list [$c read] [$c read] [$c is_closed 5000] [r get quit:after]
    } {OK OK 1 0}

    test {QUIT takes any arguments} {
        set c [new_client]
        list [$c quit now please] [$c is_closed 5000]
    } {OK 1}

    test {SELECT switches the keyspace} {
        set c [new_client]
        $c select 0
        $c set sel:k zero
        $c select 9
        set in9 [$c get sel:k]
        $c set sel:k nine
        $c select 0
        list $in9 [$c get sel:k] [$c select 9] [$c get sel:k]
    } {{} zero OK nine}

    test {SELECT errors} {
        set e {}
        foreach db {16 -1 x 1.5 99999999999999999999} {
            catch {r select $db} err
            lappend e $err
        }
        catch {r select} err
        lappend e $err
    } {{ERR DB index is out of range} {ERR DB index is out of range} {ERR value is not an integer or out of range} {ERR value is not an integer or out of range} {ERR value is not an integer or out of range} {ERR wrong number of arguments for 'select' command}}

    test {SELECT is remembered by CLIENT LIST} {
        set c [new_client]
        $c select 5
        string match "* db=5 *" [$c client info]
    } 1

    test {RESET returns the connection to its defaults} {
        set c [new_client]
        $c select 3
        $c client setname resetme
        $c hello 3
        # RESET is answered even with replies off (it turns them back on first).
        $c write "CLIENT REPLY OFF\r\n"
        set r [$c reset]
        list $r [$c client getname] [regexp { db=0 } [$c client info]] \
            [regexp { resp=2\s} [$c client info]] [$c ping]
    } {RESET {} 1 1 PONG}

    test {RESET with arguments is an arity error} {
        catch {r reset now} e
        set e
    } {ERR wrong number of arguments for 'reset' command}

    test {HELLO without arguments reports the current protocol} {
        set c [new_client]
        set h [$c hello]
        list [dict get $h server] [dict get $h proto] [dict get $h mode] [dict get $h role] \
            [expr {[dict get $h id] == [$c client id]}] [string match {7.*} [dict get $h version]]
    } {redis 2 standalone master 1 1}

    test {HELLO 3 then HELLO 2} {
        set c [new_client]
        set a [dict get [$c hello 3] proto]
        set b [dict get [$c hello 2] proto]
        list $a $b [$c last_type]
    } {3 2 array}

    test {HELLO errors} {
        set e {}
        foreach args {{1} {4} {x} {3 foo} {3 setname} {3 auth default} {3 setname "a b"}} {
            catch {r hello {*}$args} err
            lappend e $err
        }
        set e
    } {{NOPROTO unsupported protocol version} {NOPROTO unsupported protocol version} {ERR Protocol version is not an integer or out of range} {ERR Syntax error in HELLO option 'foo'} {ERR Syntax error in HELLO option 'setname'} {ERR Syntax error in HELLO option 'auth'} {ERR Client names cannot contain spaces, newlines or special characters.}}

    test {HELLO SETNAME names the connection} {
        set c [new_client]
        $c hello 3 setname hellonamed
        $c client getname
    } hellonamed

    test {AUTH without requirepass} {
        catch {r auth foo} e
        list $e [r auth default anything]
    } {{ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?} OK}

    test {AUTH of a user that does not exist} {
        catch {r auth bob pass} e
        set e
    } {WRONGPASS invalid username-password pair or user is disabled.}

    test {AUTH arity and syntax} {
        catch {r auth} e1
        catch {r auth a b c} e2
        list $e1 $e2
    } {{ERR wrong number of arguments for 'auth' command} {ERR syntax error}}
}

start_server {tags {connection auth}} {
    r config set requirepass "s3cr3t"

    test {Commands need AUTH once requirepass is set} {
        set c [new_client]
        catch {$c ping} e1
        catch {$c get k} e2
        list $e1 $e2
    } {{NOAUTH Authentication required.} {NOAUTH Authentication required.}}

    test {Unknown commands and arity errors come before NOAUTH} {
        set c [new_client]
        catch {$c nosuch} e1
        catch {$c get} e2
        list $e1 $e2
    } {{ERR unknown command 'nosuch', with args beginning with: } {ERR wrong number of arguments for 'get' command}}

    test {AUTH with a wrong password, then the right one} {
        set c [new_client]
        catch {$c auth wrong} e
        list $e [$c auth s3cr3t] [$c ping]
    } {{WRONGPASS invalid username-password pair or user is disabled.} OK PONG}

    test {AUTH default <password>} {
        set c [new_client]
        catch {$c auth default wrong} e
        list $e [$c auth default s3cr3t] [$c ping]
    } {{WRONGPASS invalid username-password pair or user is disabled.} OK PONG}

    test {HELLO before AUTH is refused, HELLO AUTH authenticates} {
        set c [new_client]
        catch {$c hello 3} e
        # Redis 7.2 added "<proto>" to the text (7.0: "the HELLO AUTH <user> <pass>").
        assert_match {NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO *AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time} $e
        set h [$c hello 3 auth default s3cr3t setname authed]
        list [dict get $h proto] [$c client getname] [$c ping]
    } {3 authed PONG}

    test {HELLO AUTH with a wrong password} {
        set c [new_client]
        catch {$c hello 3 auth default nope} e
        set e
    } {WRONGPASS invalid username-password pair or user is disabled.}

    test {QUIT and RESET work before AUTH} {
        set c [new_client]
        set r [$c reset]
        list $r [$c quit]
    } {RESET OK}

    test {RESET forgets the authentication} {
        set c [new_client]
        $c auth s3cr3t
        $c reset
        catch {$c ping} e
        set e
    } {NOAUTH Authentication required.}

    test {Connections open before requirepass keep working} {
        r ping
    } PONG

    test {Removing requirepass opens the door} {
        set c [new_client]
        catch {$c ping} e
        r config set requirepass ""
        list $e [$c ping]
    } {{NOAUTH Authentication required.} PONG}
}
