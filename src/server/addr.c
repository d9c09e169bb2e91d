/* addr.c -- "host:port" parsing for the addresses a server listens on or registers.
 *
 * One parser for every flag and config address, so each is validated the same way and a
 * bad one stops startup with a message naming it (a bind failure much later would say far
 * less). Accepts what TiKV and Redis accept: "127.0.0.1:6379", "localhost:6379",
 * "[::1]:6379", and ":6379" for every interface. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv.h"

int srv_addr_parse(const char *addr, char host[SRV_HOST_MAX], uint16_t *port, bs_err *err)
{
    if (!addr || !addr[0])
        return bs_err_setf(err, BS_EINVAL, "empty address (want host:port)");
    const char *colon;
    const char *h = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return bs_err_setf(err, BS_EINVAL, "bad address \"%s\" (want [ipv6]:port)", addr);
        h = addr + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return bs_err_setf(err, BS_EINVAL, "bad address \"%s\" (want host:port)", addr);
        hlen = (size_t)(colon - addr);
        if (memchr(addr, ':', hlen))
            return bs_err_setf(err, BS_EINVAL,
                               "bad address \"%s\" (write IPv6 hosts as [host]:port)", addr);
    }
    if (hlen >= SRV_HOST_MAX)
        return bs_err_setf(err, BS_EINVAL, "bad address \"%s\" (host too long)", addr);
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)h[i] <= ' ' || h[i] == '/')
            return bs_err_setf(err, BS_EINVAL, "bad address \"%s\" (bad character in host)",
                               addr);
    const char *p = colon + 1;
    if (!*p)
        return bs_err_setf(err, BS_EINVAL, "bad address \"%s\" (no port)", addr);
    unsigned long v = 0;
    for (const char *c = p; *c; c++) {
        if (*c < '0' || *c > '9' || v > 65535)
            return bs_err_setf(err, BS_EINVAL, "bad address \"%s\" (port is not 0..65535)",
                               addr);
        v = v * 10 + (unsigned long)(*c - '0');
    }
    if (v > 65535)
        return bs_err_setf(err, BS_EINVAL, "bad address \"%s\" (port is not 0..65535)", addr);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)v;
    return BS_OK;
}
