/* transport_mem.c -- an in-process transport: stores of one process hand each other raft
 * messages by calling cluster_store_deliver, which only queues them.
 *
 * Tests run three stores with the very same raftstore code over it, and "stop" a store by
 * marking it down: everything to or from it is dropped, as a dead or partitioned node's
 * traffic would be. A registry lock guards the store table; delivery itself takes only the
 * receiving store's queue lock, so a send never blocks on anything but memory. */
#include <pthread.h>
#include <string.h>

#include "cluster/cluster_int.h"

#define MEM_MAX_STORES 16

typedef struct mem_transport {
    cluster_transport base;
    pthread_mutex_t mu;
    struct {
        uint64_t id;
        cluster_store *store;
        bool down;
    } slot[MEM_MAX_STORES];
    uint64_t dropped;
} mem_transport;

static int slot_of(mem_transport *t, uint64_t id)
{
    for (int i = 0; i < MEM_MAX_STORES; i++)
        if (t->slot[i].id == id)
            return i;
    return -1;
}

static int mem_send(cluster_transport *base, uint64_t to_store_id, const cluster_raft_message *m)
{
    mem_transport *t = (mem_transport *)base;
    pthread_mutex_lock(&t->mu);
    int to = slot_of(t, to_store_id), from = slot_of(t, m->from_peer.store_id);
    bool ok = to >= 0 && t->slot[to].store && !t->slot[to].down &&
              !(from >= 0 && t->slot[from].down);
    if (ok)
        cluster_store_deliver(t->slot[to].store, m); /* queues a copy; never blocks on disk */
    else
        t->dropped++;
    pthread_mutex_unlock(&t->mu);
    return ok ? BS_OK : BS_NOTFOUND;
}

static const cluster_transport_vtbl mem_vtbl = {mem_send};

cluster_transport *cluster_transport_mem_new(void)
{
    mem_transport *t = bs_calloc(1, sizeof(*t));
    t->base.vt = &mem_vtbl;
    pthread_mutex_init(&t->mu, NULL);
    return &t->base;
}

void cluster_transport_mem_free(cluster_transport *base)
{
    if (!base)
        return;
    mem_transport *t = (mem_transport *)base;
    pthread_mutex_destroy(&t->mu);
    bs_free(t);
}

void cluster_transport_mem_register(cluster_transport *base, uint64_t store_id, cluster_store *s)
{
    mem_transport *t = (mem_transport *)base;
    pthread_mutex_lock(&t->mu);
    int i = slot_of(t, store_id);
    if (i < 0)
        i = slot_of(t, 0);
    if (i >= 0) {
        t->slot[i].id = s ? store_id : t->slot[i].down ? store_id : 0;
        t->slot[i].store = s;
    }
    pthread_mutex_unlock(&t->mu);
}

void cluster_transport_mem_set_down(cluster_transport *base, uint64_t store_id, bool down)
{
    mem_transport *t = (mem_transport *)base;
    pthread_mutex_lock(&t->mu);
    int i = slot_of(t, store_id);
    if (i < 0 && (i = slot_of(t, 0)) >= 0)
        t->slot[i].id = store_id;
    if (i >= 0)
        t->slot[i].down = down;
    pthread_mutex_unlock(&t->mu);
}

uint64_t cluster_transport_mem_dropped(cluster_transport *base)
{
    mem_transport *t = (mem_transport *)base;
    pthread_mutex_lock(&t->mu);
    uint64_t d = t->dropped;
    pthread_mutex_unlock(&t->mu);
    return d;
}
