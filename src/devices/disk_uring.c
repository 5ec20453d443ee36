#include "devices/disk_uring.h"

#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int disk_uring_init(struct io_uring *ring, unsigned depth)
{
	static const uint8_t ops[] = { IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV,
				       IORING_OP_WRITEV };
	struct io_uring_restriction res[sizeof(ops) + 1];
	unsigned i;

	memset(res, 0, sizeof(res));
	for (i = 0; i < sizeof(ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	res[i].opcode = IORING_RESTRICTION_REGISTER_OP;
	res[i].register_op = IORING_REGISTER_EVENTFD;
	if (io_uring_queue_init(depth, ring, IORING_SETUP_R_DISABLED) == 0) {
		/* liburing 2.3's shared library lacks the wrappers: the system call itself */
		if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS,
			    res, sizeof(ops) + 1) == 0 &&
		    syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS,
			    NULL, 0) == 0)
			return 0;
		io_uring_queue_exit(ring);
	}
	return io_uring_queue_init(depth, ring, 0);
}
