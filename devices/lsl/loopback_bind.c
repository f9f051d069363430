/* LD_PRELOAD shim for [lsl] scope = "machine" (devices/lsl/scope.py): every bind() to the
 * wildcard address (0.0.0.0 or ::) binds to loopback instead, so liblsl's TCP data servers and
 * UDP time/info services of a session's processes are reachable from this machine only.
 * A UDP socket that sends before any bind() (liblsl's resolver queries) would be bound
 * implicitly to the wildcard address; sendto()/sendmsg() bind such a socket to loopback first.
 * liblsl has no setting for this: [multicast] ListenAddress covers the discovery responder only.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static bind_fn real_bind_fn(void)
{
    static bind_fn real_bind;
    if (!real_bind)
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    return real_bind;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind_fn()(fd, (const struct sockaddr *)&a, sizeof a);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        if (IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) {
            a.sin6_addr = in6addr_loopback;
            return real_bind_fn()(fd, (const struct sockaddr *)&a, sizeof a);
        }
    }
    return real_bind_fn()(fd, addr, len);
}

/* Bind a still-unbound UDP socket to loopback (port chosen by the kernel) before it sends. */
static void pin_unbound_udp(int fd)
{
    int type;
    socklen_t tlen = sizeof type;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_DGRAM)
        return;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in a;
        memcpy(&a, &ss, sizeof a);
        if (a.sin_port == 0 && a.sin_addr.s_addr == htonl(INADDR_ANY)) {
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            real_bind_fn()(fd, (const struct sockaddr *)&a, sizeof a);
        }
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 a;
        memcpy(&a, &ss, sizeof a);
        if (a.sin6_port == 0 && IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) {
            a.sin6_addr = in6addr_loopback;
            real_bind_fn()(fd, (const struct sockaddr *)&a, sizeof a);
        }
    }
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen)
{
    static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    if (!real_sendto)
        real_sendto = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))
            dlsym(RTLD_NEXT, "sendto");
    pin_unbound_udp(fd);
    return real_sendto(fd, buf, n, flags, to, tolen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
    if (!real_sendmsg)
        real_sendmsg = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
    pin_unbound_udp(fd);
    return real_sendmsg(fd, msg, flags);
}
