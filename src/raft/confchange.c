/* confchange.c -- membership changes: simple (one voter at a time) and joint consensus.
 *
 * Joint consensus (Raft thesis 4.3): entering copies the voters into the outgoing half and
 * applies the changes to the incoming half; while joint, commits and elections need a
 * majority of both; leaving drops the outgoing half and turns learners_next (voters being
 * demoted, which must keep voting in the outgoing half) into learners. A simple change
 * may alter at most one voter, which keeps any two majorities of consecutive configs
 * overlapping. Every change is computed on a copy, checked, then installed, so an invalid
 * change leaves the tracker untouched. Mirrors etcd raft confchange/confchange.go.
 * Invariants: learners and voters (both halves) are disjoint; learners_next is a subset
 * of the outgoing voters; learners_next and learners are disjoint. */
#include <string.h>

#include "raft/raft_int.h"

static int make_voter(raft_tracker_config *c, uint64_t id)
{
    raft_idset_del(&c->learners, id);
    raft_idset_del(&c->learners_next, id);
    return raft_idset_add(&c->voters.in, id) ? BS_OK : BS_EINVAL;
}

static int make_learner(raft_tracker_config *c, uint64_t id)
{
    if (raft_idset_has(&c->learners, id))
        return BS_OK;
    raft_idset_del(&c->voters.in, id);
    raft_idset_del(&c->learners_next, id);
    /* A voter of the outgoing half keeps voting until the joint config is left. */
    if (raft_idset_has(&c->voters.out, id))
        return raft_idset_add(&c->learners_next, id) ? BS_OK : BS_EINVAL;
    return raft_idset_add(&c->learners, id) ? BS_OK : BS_EINVAL;
}

static void remove_node(raft_tracker_config *c, uint64_t id)
{
    raft_idset_del(&c->voters.in, id);
    raft_idset_del(&c->learners, id);
    raft_idset_del(&c->learners_next, id);
}

static int apply_changes(raft_tracker_config *c, const raft_cc_single *ccs, size_t n, bs_err *err)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t id = ccs[i].node_id;
        if (id == RAFT_NONE)
            continue;
        int rc = BS_OK;
        switch (ccs[i].type) {
        case RAFT_CC_ADD_NODE:
            rc = make_voter(c, id);
            break;
        case RAFT_CC_ADD_LEARNER:
            rc = make_learner(c, id);
            break;
        case RAFT_CC_REMOVE_NODE:
            remove_node(c, id);
            break;
        default:
            return bs_err_setf(err, BS_EINVAL, "unknown conf change type %d", ccs[i].type);
        }
        if (rc != BS_OK)
            return bs_err_setf(err, BS_EINVAL, "conf change: more than %d ids in a set",
                               RAFT_MAX_CONF);
    }
    if (c->voters.in.n == 0)
        return bs_err_setf(err, BS_EINVAL, "conf change removes all voters");
    return BS_OK;
}

static int check_invariants(const raft_tracker_config *c, bs_err *err)
{
    for (uint32_t i = 0; i < c->learners.n; i++) {
        uint64_t id = c->learners.ids[i];
        if (raft_idset_has(&c->voters.in, id) || raft_idset_has(&c->voters.out, id))
            return bs_err_setf(err, BS_EINVAL, "%llu is both learner and voter",
                               (unsigned long long)id);
    }
    for (uint32_t i = 0; i < c->learners_next.n; i++) {
        uint64_t id = c->learners_next.ids[i];
        if (!raft_idset_has(&c->voters.out, id) || raft_idset_has(&c->learners, id))
            return bs_err_setf(err, BS_EINVAL, "%llu in learners_next is not an outgoing voter",
                               (unsigned long long)id);
    }
    if (c->voters.out.n == 0 && (c->learners_next.n > 0 || c->auto_leave))
        return bs_err_setf(err, BS_EINVAL, "learners_next or auto_leave outside a joint config");
    return BS_OK;
}

/* Makes the progress set match c exactly, then installs c. */
static void install(raft_tracker *t, const raft_tracker_config *c, uint64_t next)
{
    const raft_idset *sets[4] = {&c->voters.in, &c->voters.out, &c->learners, &c->learners_next};
    for (size_t s = 0; s < 4; s++) {
        for (uint32_t i = 0; i < sets[s]->n; i++) {
            uint64_t id = sets[s]->ids[i];
            if (!raft_tracker_get(t, id)) {
                raft_progress *p = raft_tracker_add(t, id, next, false);
                /* A new peer counts as active, so adding it cannot make the leader step
                 * down at the next quorum check before it had a chance to reply. */
                p->recent_active = true;
            }
        }
    }
    for (size_t i = 0; i < t->n_prs;) {
        uint64_t id = t->prs[i].id;
        bool keep = false;
        for (size_t s = 0; s < 4 && !keep; s++)
            keep = raft_idset_has(sets[s], id);
        if (!keep) {
            raft_tracker_remove(t, id);
            continue; /* the last progress moved into slot i */
        }
        t->prs[i].is_learner =
            raft_idset_has(&c->learners, id) || raft_idset_has(&c->learners_next, id);
        i++;
    }
    t->cfg = *c;
}

int raft_cc_enter_joint(raft_tracker *t, bool auto_leave, const raft_cc_single *ccs, size_t n,
                        uint64_t next, bs_err *err)
{
    if (raft_tracker_is_joint(t))
        return bs_err_setf(err, BS_EINVAL, "config is already joint");
    if (t->cfg.voters.in.n == 0)
        return bs_err_setf(err, BS_EINVAL, "can't make a zero-voter config joint");
    raft_tracker_config c = t->cfg;
    c.voters.out = c.voters.in;
    int rc = apply_changes(&c, ccs, n, err);
    if (rc != BS_OK)
        return rc;
    c.auto_leave = auto_leave;
    rc = check_invariants(&c, err);
    if (rc != BS_OK)
        return rc;
    install(t, &c, next);
    return BS_OK;
}

int raft_cc_leave_joint(raft_tracker *t, bs_err *err)
{
    if (!raft_tracker_is_joint(t))
        return bs_err_setf(err, BS_EINVAL, "can't leave a non-joint config");
    raft_tracker_config c = t->cfg;
    for (uint32_t i = 0; i < c.learners_next.n; i++)
        if (!raft_idset_add(&c.learners, c.learners_next.ids[i]))
            return bs_err_setf(err, BS_EINVAL, "too many learners");
    c.learners_next.n = 0;
    c.voters.out.n = 0;
    c.auto_leave = false;
    int rc = check_invariants(&c, err);
    if (rc != BS_OK)
        return rc;
    install(t, &c, 1);
    return BS_OK;
}

int raft_cc_simple(raft_tracker *t, const raft_cc_single *ccs, size_t n, uint64_t next, bs_err *err)
{
    if (raft_tracker_is_joint(t))
        return bs_err_setf(err, BS_EINVAL, "can't apply a simple change in a joint config");
    raft_tracker_config c = t->cfg;
    int rc = apply_changes(&c, ccs, n, err);
    if (rc != BS_OK)
        return rc;
    /* Symmetric difference of the voter sets must be at most one id. */
    uint32_t diff = 0;
    for (uint32_t i = 0; i < c.voters.in.n; i++)
        diff += !raft_idset_has(&t->cfg.voters.in, c.voters.in.ids[i]);
    for (uint32_t i = 0; i < t->cfg.voters.in.n; i++)
        diff += !raft_idset_has(&c.voters.in, t->cfg.voters.in.ids[i]);
    if (diff > 1)
        return bs_err_setf(err, BS_EINVAL, "more than one voter changed without joint consensus");
    rc = check_invariants(&c, err);
    if (rc != BS_OK)
        return rc;
    install(t, &c, next);
    return BS_OK;
}

static int load_set(raft_idset *s, const uint64_t *ids, uint32_t n, bs_err *err)
{
    memset(s, 0, sizeof(*s));
    if (n > RAFT_MAX_CONF)
        return bs_err_setf(err, BS_EINVAL, "conf state set larger than %d", RAFT_MAX_CONF);
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == RAFT_NONE || !raft_idset_add(s, ids[i]))
            return bs_err_setf(err, BS_EINVAL, "bad id in conf state");
    return BS_OK;
}

int raft_cc_restore(raft_tracker *t, const raft_conf_state *cs, uint64_t next, bs_err *err)
{
    raft_tracker_config c;
    memset(&c, 0, sizeof(c));
    int rc = load_set(&c.voters.in, cs->voters, cs->n_voters, err);
    if (rc == BS_OK)
        rc = load_set(&c.voters.out, cs->voters_outgoing, cs->n_voters_outgoing, err);
    if (rc == BS_OK)
        rc = load_set(&c.learners, cs->learners, cs->n_learners, err);
    if (rc == BS_OK)
        rc = load_set(&c.learners_next, cs->learners_next, cs->n_learners_next, err);
    if (rc != BS_OK)
        return rc;
    c.auto_leave = cs->auto_leave;
    rc = check_invariants(&c, err);
    if (rc != BS_OK)
        return rc;
    /* Start from scratch: every progress is re-created at `next`. */
    raft_tracker_deinit(t);
    install(t, &c, next);
    return BS_OK;
}

bool raft_cc_enters_joint(const raft_conf_change *cc, bool *auto_leave)
{
    if (cc->transition != RAFT_CC_AUTO || cc->n_changes > 1) {
        *auto_leave = cc->transition == RAFT_CC_AUTO || cc->transition == RAFT_CC_IMPLICIT;
        return true;
    }
    *auto_leave = false;
    return false;
}

bool raft_cc_leaves_joint(const raft_conf_change *cc)
{
    return cc->n_changes == 0 && cc->transition == RAFT_CC_AUTO;
}
