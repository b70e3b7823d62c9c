/*
 * netns.h - plumb a veth pair into a network namespace over rtnetlink.
 *
 * The step code uses this to give the container a network: one veth end
 * stays on the host, the other is created directly inside the container's
 * network namespace. Every call is one rtnetlink request (rtnetlink(7)) sent
 * with libmnl, and the kernel's acknowledgement is always read, so errors
 * such as EEXIST come back as -1 with errno set. Nothing here prints or exits.
 *
 * The rule to remember: a netlink socket acts on the network namespace it
 * was opened in, for its whole life, even if the process calls setns(2)
 * afterwards (netlink(7), network_namespaces(7)). To configure the inside of
 * a namespace, enter it first and only then call netns_open().
 */
#ifndef CNTLAB_NETNS_H
#define CNTLAB_NETNS_H

#include <netinet/in.h> /* struct in_addr */
#include <sys/types.h> /* pid_t */

struct mnl_socket;

/* Open and bind a NETLINK_ROUTE socket in the caller's current network
 * namespace. Returns NULL with errno set on failure. */
struct mnl_socket *netns_open(void);

/* Close a socket from netns_open(). Accepts NULL, like free(). */
void netns_close(struct mnl_socket *nl);

/* Create veth `name` in the socket's namespace and its peer `peer` directly
 * inside the network namespace of process `peer_pid` (veth(4)). */
int netns_veth_add(struct mnl_socket *nl, const char *name, const char *peer, pid_t peer_pid);

/* Return the ifindex (> 0) of interface `name`, or -1 with errno (ENODEV). */
int netns_link_index(struct mnl_socket *nl, const char *name);

/* Set interface `ifindex` administratively up (IFF_UP). */
int netns_link_up(struct mnl_socket *nl, int ifindex);

/* Add IPv4 address `addr`/`prefixlen` to interface `ifindex`. */
int netns_addr_add(struct mnl_socket *nl, int ifindex, struct in_addr addr, int prefixlen);

/* Add an IPv4 default route via `gateway` to the main routing table. */
int netns_route_add_default(struct mnl_socket *nl, struct in_addr gateway);

/* Create a bridge `name` (RTM_NEWLINK, kind "bridge"): a switch in the kernel
 * whose ports are other interfaces. EEXIST if it is there already. */
int netns_bridge_add(struct mnl_socket *nl, const char *name);

/* Make interface `ifindex` a port of the bridge `master` (IFLA_MASTER). */
int netns_link_set_master(struct mnl_socket *nl, int ifindex, int master);

/* Delete interface `ifindex` (RTM_DELLINK); for a veth, its peer goes too. */
int netns_link_del(struct mnl_socket *nl, int ifindex);

/* Call `fn(name, data)` for each port of the bridge `master`. Returns the
 * number of ports, or -1 with errno. */
int netns_bridge_ports(struct mnl_socket *nl, int master, void (*fn)(const char *, void *),
                       void *data);

#endif /* CNTLAB_NETNS_H */
