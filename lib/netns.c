/*
 * netns.c - plumb a veth pair into a network namespace over rtnetlink.
 *
 * Each public function builds one request with libmnl and hands it to talk(),
 * which sends it, reads the kernel's answer and turns an error into errno.
 * See netns.h for the API, rtnetlink(7) and netlink(7) for the protocol.
 */
#include "netns.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <libmnl/libmnl.h>

/* Big enough for any request here and for one link's reply; fixed rather than
 * MNL_SOCKET_BUFFER_SIZE, which calls sysconf() and would make a VLA. */
enum { NL_BUF_SIZE = 8192 };

struct mnl_socket *netns_open(void)
{
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

        if (nl == NULL)
                return NULL;
        /* Binding with MNL_SOCKET_AUTOPID lets the kernel pick a unique port id,
         * which mnl_cb_run() then uses to check that replies are meant for us. */
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int saved = errno;

                mnl_socket_close(nl);
                errno = saved;
                return NULL;
        }
        return nl;
}

void netns_close(struct mnl_socket *nl)
{
        if (nl != NULL)
                mnl_socket_close(nl);
}

/* Start a request. NLM_F_ACK makes the kernel answer even on success, so an
 * error can never be lost; a fresh sequence number lets mnl_cb_run() match
 * that answer to this request (netlink(7)). */
static struct nlmsghdr *put_request(char *buf, uint16_t type, uint16_t flags)
{
        static unsigned int seq;
        struct nlmsghdr *nlh;

        /* libmnl before 1.0.5 leaves the padding after an attribute unset: start
         * from zeros so no stack garbage is sent to the kernel. */
        memset(buf, 0, NL_BUF_SIZE);
        nlh = mnl_nlmsg_put_header(buf);

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        nlh->nlmsg_seq = ++seq;
        return nlh;
}

/* Send one request and read until the kernel's ACK. mnl_cb_run() returns
 * MNL_CB_OK while more is expected, MNL_CB_STOP on a successful ACK and
 * MNL_CB_ERROR with errno taken from an NLMSG_ERROR. `cb` sees data replies. */
static int talk(struct mnl_socket *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        unsigned int portid = mnl_socket_get_portid(nl);
        int ret;

        if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
                return -1;
        do {
                ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));

                if (len < 0)
                        return -1;
                ret = mnl_cb_run(buf, (size_t)len, req->nlmsg_seq, portid, cb, data);
        } while (ret == MNL_CB_OK);
        return ret == MNL_CB_STOP ? 0 : -1;
}

int netns_veth_add(struct mnl_socket *nl, const char *name, const char *peer, pid_t peer_pid)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = put_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        struct nlattr *linkinfo, *infodata, *peerinfo;

        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        infodata = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        /* The veth driver reads the peer as a whole link of its own: an
         * ifinfomsg followed by IFLA_* attributes (drivers/net/veth.c). */
        peerinfo = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
        mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
        /* Creating the peer inside the target namespace means it never shows
         * up on the host, so no name clash and no separate move step. */
        mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t)peer_pid);
        mnl_attr_nest_end(nlh, peerinfo);
        mnl_attr_nest_end(nlh, infodata);
        mnl_attr_nest_end(nlh, linkinfo);
        return talk(nl, nlh, NULL, NULL);
}

/* The reply to RTM_GETLINK is an RTM_NEWLINK message describing the link. */
static int store_ifindex(const struct nlmsghdr *nlh, void *data)
{
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

        if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi)) {
                errno = EPROTO;
                return MNL_CB_ERROR;
        }
        *(int *)data = ifi->ifi_index;
        return MNL_CB_OK;
}

int netns_link_index(struct mnl_socket *nl, const char *name)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = put_request(buf, RTM_GETLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        int ifindex = 0;

        /* With ifi_index 0 the kernel looks the link up by IFLA_IFNAME, and
         * answers ENODEV if there is none. */
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        if (talk(nl, nlh, store_ifindex, &ifindex) < 0)
                return -1;
        if (ifindex <= 0) {
                errno = EPROTO;
                return -1;
        }
        return ifindex;
}

int netns_link_up(struct mnl_socket *nl, int ifindex)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = put_request(buf, RTM_NEWLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

        /* ifi_change is the mask of flags to modify, so only IFF_UP changes.
         * rtnetlink(7) still says to set it to 0xFFFFFFFF, but the kernel uses
         * it as a mask, and all-ones would also clear IFF_MULTICAST and co. */
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
        return talk(nl, nlh, NULL, NULL);
}

int netns_addr_add(struct mnl_socket *nl, int ifindex, struct in_addr addr, int prefixlen)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa;

        /* ifa_prefixlen is one byte, so 280 would quietly become /24: check here. */
        if (prefixlen < 0 || prefixlen > 32) {
                errno = EINVAL;
                return -1;
        }
        nlh = put_request(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (uint8_t)prefixlen;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (uint32_t)ifindex;
        /* IFA_LOCAL is our own address; IFA_ADDRESS is the peer's on a
         * point-to-point link and the same as IFA_LOCAL otherwise (linux/if_addr.h). */
        mnl_attr_put(nlh, IFA_LOCAL, sizeof(addr), &addr);
        mnl_attr_put(nlh, IFA_ADDRESS, sizeof(addr), &addr);
        return talk(nl, nlh, NULL, NULL);
}

int netns_route_add_default(struct mnl_socket *nl, struct in_addr gateway)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = put_request(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

        /* A default route is destination 0.0.0.0/0, i.e. rtm_dst_len 0 and no
         * RTA_DST. The kernel refuses a gateway it cannot reach directly. */
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = 0;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_BOOT;
        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
        rtm->rtm_type = RTN_UNICAST;
        mnl_attr_put(nlh, RTA_GATEWAY, sizeof(gateway), &gateway);
        return talk(nl, nlh, NULL, NULL);
}

int netns_bridge_add(struct mnl_socket *nl, const char *name)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = put_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        struct nlattr *linkinfo;

        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
        mnl_attr_nest_end(nlh, linkinfo);
        return talk(nl, nlh, NULL, NULL);
}

int netns_link_set_master(struct mnl_socket *nl, int ifindex, int master)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = put_request(buf, RTM_NEWLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
        return talk(nl, nlh, NULL, NULL);
}

int netns_link_del(struct mnl_socket *nl, int ifindex)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = put_request(buf, RTM_DELLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        return talk(nl, nlh, NULL, NULL);
}

struct ports {
        int master, count;
        void (*fn)(const char *, void *);
        void *data;
};

/* One link of the dump: count it, and call fn, if its IFLA_MASTER is ours. */
static int visit_port(const struct nlmsghdr *nlh, void *data)
{
        struct ports *p = data;
        const struct nlattr *attr;
        const char *name = NULL;
        int master = 0;

        mnl_attr_for_each(attr, nlh, sizeof(struct ifinfomsg))
        {
                if (mnl_attr_get_type(attr) == IFLA_MASTER &&
                    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
                        master = (int)mnl_attr_get_u32(attr);
                else if (mnl_attr_get_type(attr) == IFLA_IFNAME &&
                         mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
                        name = mnl_attr_get_str(attr);
        }
        if (master == p->master && name) {
                p->count++;
                if (p->fn)
                        p->fn(name, p->data);
        }
        return MNL_CB_OK;
}

int netns_bridge_ports(struct mnl_socket *nl, int master, void (*fn)(const char *, void *),
                       void *data)
{
        _Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = put_request(buf, RTM_GETLINK, NLM_F_DUMP);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        struct ports ports = {master, 0, fn, data};

        /* A dump answers with one RTM_NEWLINK per link and ends with NLMSG_DONE,
         * which mnl_cb_run() turns into MNL_CB_STOP: no ACK to ask for. */
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        ifi->ifi_family = AF_UNSPEC;
        if (talk(nl, nlh, visit_port, &ports) < 0)
                return -1;
        return ports.count;
}
