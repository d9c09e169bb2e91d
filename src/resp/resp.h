/* resp.h -- the RESP front end: a Redis-protocol server whose commands become calls on the
 * cluster client (client.h). The contract the server binary sees of src/resp/.
 *
 * One libevent loop thread (net.h's net_loop) owns every connection: it reads and parses
 * requests, runs command handlers, and writes replies. Handlers call client/ asynchronously;
 * completions arrive on other threads and are posted back to the loop, where replies are
 * released strictly in request order per connection (pipelining).
 *
 * Thread affinity: resp_server_* functions are called from the thread that created the
 * server (the main thread), never from the loop thread. */
#ifndef BASALT_RESP_RESP_H
#define BASALT_RESP_RESP_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "common/err.h"

struct bs_config;

typedef struct resp_server resp_server;

typedef struct resp_server_options {
    client *client;                /* borrowed; outlives the server */
    const struct bs_config *config; /* borrowed; outlives the server: [redis] settings and
                                     * what CONFIG GET reports; copied at creation, CONFIG
                                     * SET changes the server's copy only */
    const char *addr;              /* "host:port" to listen on; overrides [redis] addr when
                                    * non-NULL; port 0 picks a free port */
} resp_server_options;

/* Creates the server, binds and listens, and starts its loop thread. BS_OK and *out
 * (caller owns; resp_server_free), or BS_EINVAL / BS_EIO with err ("Address already in
 * use"...). */
int resp_server_start(const resp_server_options *opts, resp_server **out, bs_err *err);

/* The port actually bound (useful with port 0). */
uint16_t resp_server_port(const resp_server *s);

/* True once a client sent SHUTDOWN (the server binary polls it and exits cleanly). */
bool resp_server_shutdown_requested(const resp_server *s);

/* Stops accepting, closes every connection (replies still owed to a connection whose
 * client request is in flight are dropped once their completion arrives), stops the loop
 * thread and frees. s may be NULL. */
void resp_server_free(resp_server *s);

#endif
