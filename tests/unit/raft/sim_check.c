/* sim_check.c -- the simulation's invariants, checked after every step:
 *   election safety: at most one leader per term (leaders recorded per term);
 *   log matching: entries with the same index and term are identical and follow the same
 *     term, tracked in a hash index over every entry any node ever persisted;
 *   leader completeness: a new leader's log holds every entry applied anywhere.
 * State machine safety and read freshness are checked where the owner applies entries
 * and serves reads (sim.c). */
#include <string.h>

#include "sim_int.h"

static void lm_grow(sim *s);

void sim_check_log_matching(sim *s, uint64_t node_id, uint64_t index, uint64_t term, uint64_t value,
                            uint64_t prev_term, bool prev_known)
{
    if (s->n_lm * 2 >= s->cap_lm)
        lm_grow(s);
    size_t mask = s->cap_lm - 1, i = (size_t)(sim_mix(index, term) & mask);
    while (s->lm[i].used) {
        lm_slot *e = &s->lm[i];
        if (e->index == index && e->term == term) {
            if (e->value != value)
                sim_fail(s, "log matching: node %llu has a different entry at index %llu term %llu",
                         (unsigned long long)node_id, (unsigned long long)index,
                         (unsigned long long)term);
            if (prev_known && e->prev_term != UINT64_MAX && e->prev_term != prev_term)
                sim_fail(s, "log matching: node %llu entry %llu/%llu follows term %llu, seen %llu",
                         (unsigned long long)node_id, (unsigned long long)index,
                         (unsigned long long)term, (unsigned long long)prev_term,
                         (unsigned long long)e->prev_term);
            if (prev_known && e->prev_term == UINT64_MAX)
                e->prev_term = prev_term;
            return;
        }
        i = (i + 1) & mask;
    }
    s->lm[i] = (lm_slot){index, term, value, prev_known ? prev_term : UINT64_MAX, true};
    s->n_lm++;
}

static void lm_grow(sim *s)
{
    lm_slot *old = s->lm;
    size_t oldcap = s->cap_lm;
    s->cap_lm = oldcap ? oldcap * 2 : 4096;
    s->lm = bs_calloc(s->cap_lm, sizeof(lm_slot));
    s->n_lm = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].used)
            continue;
        size_t mask = s->cap_lm - 1, j = (size_t)(sim_mix(old[i].index, old[i].term) & mask);
        while (s->lm[j].used)
            j = (j + 1) & mask;
        s->lm[j] = old[i];
        s->n_lm++;
    }
    bs_free(old);
}

void sim_check_leaders(sim *s)
{
    for (int k = 1; k < MAXN; k++) {
        node *n = &s->nodes[k];
        if (!n->up)
            continue;
        raft_status st;
        raft_get_status(n->r, &st);
        if (st.role != RAFT_LEADER)
            continue;
        if (st.term >= s->cap_terms) {
            size_t cap = s->cap_terms ? s->cap_terms : 64;
            while (cap <= st.term)
                cap *= 2;
            s->leader_of_term = bs_realloc(s->leader_of_term, cap * sizeof(uint64_t));
            memset(s->leader_of_term + s->cap_terms, 0, (cap - s->cap_terms) * sizeof(uint64_t));
            s->cap_terms = cap;
        }
        uint64_t *l = &s->leader_of_term[st.term];
        if (*l == 0) {
            *l = n->id;
            s->st->leaders++;
        } else if (*l != n->id) {
            sim_fail(s, "election safety: %llu and %llu both leaders in term %llu",
                     (unsigned long long)*l, (unsigned long long)n->id,
                     (unsigned long long)st.term);
            return;
        }
        if (n->leader_checked_term == st.term)
            continue;
        /* Leader completeness: every entry applied anywhere is in the new leader's log. */
        n->leader_checked_term = st.term;
        uint64_t first = raft_log_first_index(&n->r->log);
        uint64_t last = raft_log_last_index(&n->r->log);
        for (uint64_t i = first; i <= s->hist_max; i++) {
            hist_ent *h = sim_hist_at(s, i);
            if (!h->set)
                continue;
            if (i > last || raft_log_term(&n->r->log, i) != h->term) {
                sim_fail(s,
                         "leader completeness: leader %llu of term %llu lacks committed entry "
                         "%llu (term %llu)",
                         (unsigned long long)n->id, (unsigned long long)st.term,
                         (unsigned long long)i, (unsigned long long)h->term);
                return;
            }
        }
    }
}
