/* tap_echo: the host side of the guest-to-host virtio-net benchmark (bench/virtio-net.sh).
 * Usage: tap_echo IFNAME
 * Sends every frame of the test ethertype (0x88b5, what guests/vnet.c's `mode=send` emits)
 * that arrives on IFNAME (the VM's TAP, seen from the host) back to its sender, the way
 * vnet's `mode=echo` does in a peer VM: destination = the frame's source, source = IFNAME's
 * own MAC, the rest unchanged. Runs until SIGTERM or SIGINT, then prints
 * `tap_echo: N frames echoed` on stderr. Exit status 0, or 1 when the socket cannot be set up. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define ETH_TEST 0x88b5

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_TEST) };
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned char own[6], f[2048];
	unsigned long n = 0;
	struct ifreq ifr;
	int s, one = 1;

	if (argc != 2 || strlen(argv[1]) >= IFNAMSIZ) {
		fprintf(stderr, "usage: tap_echo IFNAME\n");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: recv returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	s = socket(AF_PACKET, SOCK_RAW, htons(ETH_TEST));
	if (s < 0) {
		perror("tap_echo: socket");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, argv[1]);
	if (ioctl(s, SIOCGIFINDEX, &ifr) < 0 || (sll.sll_ifindex = ifr.ifr_ifindex,
	    bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) ||
	    ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "tap_echo: %s: %s\n", argv[1], strerror(errno));
		close(s);
		return 1;
	}
	memcpy(own, ifr.ifr_hwaddr.sa_data, 6);
	/* Our own replies would come back to this socket otherwise (Linux >= 4.20). */
	setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	printf("tap_echo: ready on %s\n", argv[1]);
	fflush(stdout);
	while (!stop) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(s, f, sizeof(f), 0, (struct sockaddr *)&from, &fl);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			perror("tap_echo: recv");
			break;
		}
		if (len < 60 || from.sll_pkttype == PACKET_OUTGOING || !memcmp(f + 6, own, 6))
			continue;
		memcpy(f, f + 6, 6);
		memcpy(f + 6, own, 6);
		if (send(s, f, (size_t)len, 0) == len)
			n++;
	}
	fprintf(stderr, "tap_echo: %lu frames echoed\n", n);
	close(s);
	return 0;
}
