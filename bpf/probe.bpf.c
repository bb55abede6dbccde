// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * falco-rs CO-RE probe: one object loaded by both live backends (libbpf-rs and aya).
 *
 * - tp_btf/sys_exit: for each syscall enabled in the `interesting` table, builds the current
 *   (non-EF_OLD_VERSION) exit event of libs 0.25.4 with all of its parameters, path arguments
 *   read at exit. Most events come from a declarative table (sc_table); process, socket and
 *   file-identity events have their own builders.
 * - tracepoint/syscalls/sys_enter_{open,openat,openat2,creat,connect}: the TOCTOU enter
 *   events that 0.25.4 live drivers still produce.
 * - tp_btf/sched_process_exec: the successful execve/execveat exit (registers are gone by
 *   sys_exit); tp_btf/sched_process_exit: PROCEXIT_1_E; tp_btf/sched_process_fork: the child's
 *   clone exit where FRS_FLAG_FORK_FROM_TRACEPOINT asks for it.
 *
 * Records are written to per-CPU rings in an mmapable array (one writer per CPU, no locks,
 * no wake-ups: see falco_rs.h); userspace drains them on a short timer. Tail-call tables are not used (aya cannot parse typed PROG_ARRAYs).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "falco_rs.h"

#ifndef __TARGET_ARCH_x86
#error "the falco-rs probe supports x86-64 only"
#endif

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* ------------------------------------------------------------------------------------------ */
/* Maps                                                                                        */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frs_settings);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FRS_SYSCALL_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u8);
} interesting SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frs_counters);
} counters SEC(".maps");

struct scratch_area {
	__u8 data[FRS_SCRATCH_SIZE];
};

/* One scratch area per possible CPU; userspace sets max_entries before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch_area);
} scratch SEC(".maps");

/* The per-CPU event rings and their positions (layout in falco_rs.h); userspace sets both
 * max_entries before load and maps both. */
struct ring_elem {
	__u8 data[FRS_RING_ELEM];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ring_elem);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frs_ring_pos);
} ring_pos SEC(".maps");

/* ------------------------------------------------------------------------------------------ */
/* Constants (uapi values not in vmlinux.h)                                                    */

#define HALF (FRS_MAX_EVENT_SIZE)
/* Masks an offset into the first half of the scratch area; the asm keeps the compiler from
 * dropping a mask it can prove redundant (the verifier cannot). */
static __always_inline __u64 frs_off(__u64 x) {
	asm volatile("%[x] &= %[m]" : [x] "+r"(x) : [m] "i"(HALF - 1));
	return x;
}
#define OFF(x) frs_off(x)
/* Scratch offset of the staging area for multi-field kernel reads (past the event and the
 * longest string written at its end, before the path-walk names). */
#define FILE_STAGE (HALF + 8192)
#define MAX_PATH 4096
#define MAX_ARGS 4096
#define MAX_NAME 256
#define MAX_PATH_COMPONENTS 32
#define MAX_ARGV 32

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

#define O_ACCMODE 3
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_EXCL 0200
#define O_TRUNC 01000
#define O_APPEND 02000
#define O_NONBLOCK 04000
#define O_DSYNC 010000
#define O_DIRECT 040000
#define O_LARGEFILE 0100000
#define O_DIRECTORY 0200000
#define O_CLOEXEC 02000000
#define __O_SYNC 04000000
#define O_TMPFILE 020200000
#define FMODE_CREATED_BIT 0x100000

#define PPM_O_RDONLY (1 << 0)
#define PPM_O_WRONLY (1 << 1)
#define PPM_O_RDWR (PPM_O_RDONLY | PPM_O_WRONLY)
#define PPM_O_CREAT (1 << 2)
#define PPM_O_APPEND (1 << 3)
#define PPM_O_DSYNC (1 << 4)
#define PPM_O_EXCL (1 << 5)
#define PPM_O_NONBLOCK (1 << 6)
#define PPM_O_SYNC (1 << 7)
#define PPM_O_TRUNC (1 << 8)
#define PPM_O_DIRECT (1 << 9)
#define PPM_O_DIRECTORY (1 << 10)
#define PPM_O_LARGEFILE (1 << 11)
#define PPM_O_CLOEXEC (1 << 12)
#define PPM_O_TMPFILE (1 << 13)
#define PPM_O_F_CREATED (1 << 14)

#define PPM_CL_CHILD_IN_PIDNS (1 << 29)
#define PPM_EXE_FROM_MEMFD (1 << 2)

/* ------------------------------------------------------------------------------------------ */
/* Event codes (libs 0.25.4 event table)                                                       */

#define PPME_SYSCALL_OPEN_E 2
#define PPME_SYSCALL_OPEN_X 3
#define PPME_SYSCALL_CLOSE_X 5
#define PPME_SOCKET_SOCKET_X 19
#define PPME_SOCKET_BIND_X 21
#define PPME_SOCKET_CONNECT_E 22
#define PPME_SOCKET_CONNECT_X 23
#define PPME_SOCKET_LISTEN_X 25
#define PPME_SOCKET_SENDTO_X 31
#define PPME_SOCKET_RECVFROM_X 35
#define PPME_SOCKET_SHUTDOWN_X 37
#define PPME_SOCKET_SOCKETPAIR_X 43
#define PPME_SOCKET_SENDMSG_X 49
#define PPME_SOCKET_RECVMSG_X 53
#define PPME_SYSCALL_CREAT_E 58
#define PPME_SYSCALL_CREAT_X 59
#define PPME_SYSCALL_PIPE_X 61
#define PPME_SYSCALL_CHDIR_X 95
#define PPME_SYSCALL_FCHDIR_X 97
#define PPME_SYSCALL_FCNTL_X 151
#define PPME_SYSCALL_PTRACE_X 169
#define PPME_SYSCALL_SYMLINK_X 179
#define PPME_SYSCALL_SYMLINKAT_X 181
#define PPME_SYSCALL_RENAME_X 175
#define PPME_SYSCALL_RENAMEAT_X 177
#define PPME_PROCEXIT_1_E 186
#define PPME_SYSCALL_SETRESUID_X 193
#define PPME_SYSCALL_SETRESGID_X 195
#define PPME_SYSCALL_SETUID_X 199
#define PPME_SYSCALL_SETGID_X 201
#define PPME_SYSCALL_CLONE_20_X 223
#define PPME_SYSCALL_FORK_20_X 225
#define PPME_SYSCALL_VFORK_20_X 227
#define PPME_SYSCALL_SETNS_X 241
#define PPME_SOCKET_ACCEPT_5_X 247
#define PPME_SOCKET_ACCEPT4_6_X 389
#define PPME_SYSCALL_MOUNT_X 257
#define PPME_SYSCALL_CHROOT_X 267
#define PPME_SYSCALL_SETSID_X 275
#define PPME_SYSCALL_MKDIR_2_X 277
#define PPME_SYSCALL_RMDIR_2_X 279
#define PPME_SYSCALL_UNSHARE_X 285
#define PPME_SYSCALL_EXECVE_19_X 293
#define PPME_SYSCALL_UNLINK_2_X 301
#define PPME_SYSCALL_UNLINKAT_2_X 303
#define PPME_SYSCALL_MKDIRAT_X 305
#define PPME_SYSCALL_OPENAT_2_E 306
#define PPME_SYSCALL_OPENAT_2_X 307
#define PPME_SYSCALL_LINK_2_X 309
#define PPME_SYSCALL_LINKAT_2_X 311
#define PPME_SYSCALL_FCHMODAT_X 313
#define PPME_SYSCALL_CHMOD_X 315
#define PPME_SYSCALL_FCHMOD_X 317
#define PPME_SYSCALL_RENAMEAT2_X 319
#define PPME_SYSCALL_USERFAULTFD_X 321
#define PPME_SYSCALL_OPENAT2_E 326
#define PPME_SYSCALL_OPENAT2_X 327
#define PPME_SYSCALL_EXECVEAT_X 331
#define PPME_SYSCALL_CLONE3_X 335
#define PPME_SYSCALL_CAPSET_X 353
#define PPME_SYSCALL_DUP2_X 363
#define PPME_SYSCALL_DUP3_X 365
#define PPME_SYSCALL_DUP_1_X 367
#define PPME_SYSCALL_BPF_2_X 369
#define PPME_SYSCALL_EPOLL_CREATE1_X 377
#define PPME_SYSCALL_UMOUNT2_X 391
#define PPME_SYSCALL_PIPE2_X 393
#define PPME_SYSCALL_INOTIFY_INIT1_X 395
#define PPME_SYSCALL_EVENTFD2_X 397
#define PPME_SYSCALL_PRCTL_X 401
#define PPME_SOCKET_GETSOCKOPT_X 47
#define PPME_SYSCALL_IO_URING_SETUP_X 339
#define PPME_SYSCALL_IO_URING_ENTER_X 341
#define PPME_SYSCALL_IO_URING_REGISTER_X 343
#define PPME_SYSCALL_MEMFD_CREATE_X 405
#define PPME_SYSCALL_PIDFD_OPEN_X 409
#define PPME_SYSCALL_INIT_MODULE_X 411
#define PPME_SYSCALL_FINIT_MODULE_X 413
#define PPME_SYSCALL_SETREUID_X 427
#define PPME_SYSCALL_SETREGID_X 429
#define PPME_SYSCALL_CLOSE_RANGE_X 451
#define PPME_SYSCALL_EVENTFD_X 63
#define PPME_SYSCALL_SIGNALFD_X 127
#define PPME_SYSCALL_TIMERFD_CREATE_X 137
#define PPME_SYSCALL_INOTIFY_INIT_X 139
#define PPME_SYSCALL_EPOLL_CREATE_X 375
#define PPME_SYSCALL_SIGNALFD4_X 399
#define PPME_SYSCALL_PIDFD_GETFD_X 407

/* x86-64 syscall numbers */
#define NR_open 2
#define NR_close 3
#define NR_pipe 22
#define NR_dup 32
#define NR_dup2 33
#define NR_socket 41
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_shutdown 48
#define NR_bind 49
#define NR_listen 50
#define NR_socketpair 53
#define NR_clone 56
#define NR_fork 57
#define NR_vfork 58
#define NR_execve 59
#define NR_fcntl 72
#define NR_chdir 80
#define NR_fchdir 81
#define NR_rename 82
#define NR_mkdir 83
#define NR_rmdir 84
#define NR_creat 85
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_chmod 90
#define NR_fchmod 91
#define NR_ptrace 101
#define NR_setuid 105
#define NR_setgid 106
#define NR_setsid 112
#define NR_setreuid 113
#define NR_setregid 114
#define NR_setresuid 117
#define NR_setresgid 119
#define NR_capset 126
#define NR_prctl 157
#define NR_getsockopt 55
#define NR_io_uring_setup 425
#define NR_io_uring_enter 426
#define NR_io_uring_register 427
#define NR_chroot 161
#define NR_mount 165
#define NR_umount2 166
#define NR_init_module 175
#define NR_openat 257
#define NR_mkdirat 258
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_fchmodat 268
#define NR_unshare 272
#define NR_accept4 288
#define NR_eventfd2 290
#define NR_epoll_create1 291
#define NR_dup3 292
#define NR_pipe2 293
#define NR_inotify_init1 294
#define NR_setns 308
#define NR_finit_module 313
#define NR_renameat2 316
#define NR_memfd_create 319
#define NR_bpf 321
#define NR_execveat 322
#define NR_userfaultfd 323
#define NR_epoll_create 213
#define NR_inotify_init 253
#define NR_signalfd 282
#define NR_timerfd_create 283
#define NR_eventfd 284
#define NR_signalfd4 289
#define NR_pidfd_getfd 438
#define NR_pidfd_open 434
#define NR_clone3 435
#define NR_close_range 436
#define NR_openat2 437

/* ------------------------------------------------------------------------------------------ */
/* Declarative table: events whose parameters are the return value, raw or converted          */
/* arguments and user strings.                                                                 */

enum param_kind {
	PK_NONE = 0,
	PK_RES,         /* return value, 8 bytes */
	PK_ARG,         /* raw argument, `size` bytes */
	PK_ARG_FD,      /* int argument sign-extended to 8 bytes (FD, PID) */
	PK_ARG_STR,     /* NUL-terminated user string */
	PK_EMPTY,       /* length 0 */
	PK_OPEN_FLAGS,  /* open_flags_to_scap(arg) | PPM_O_F_CREATED from the returned fd */
	PK_OPEN_MODE,   /* open_modes_to_scap(arg[aux], arg) */
	PK_MODE,        /* chmod_mode_to_scap(arg) */
	PK_CLONE_FLAGS, /* clone_flags_to_scap(arg) */
	PK_AT_FLAGS,    /* linkat/unlinkat flags (same bits as PPM_AT_*) */
	PK_CLOEXEC,     /* O_CLOEXEC -> PPM_O_CLOEXEC (dup3) */
	PK_FILE_FLAGS,  /* O_CLOEXEC|O_DIRECT|O_NONBLOCK (pipe2), socket type flags */
	PK_MEMFD_FLAGS,
	PK_RES_DEV,     /* dev of the returned fd's inode (u32) */
	PK_RES_INO,     /* inode number of the returned fd (u64) */
	PK_CREAT_FLAGS, /* PPM_O_F_CREATED from the returned fd (u16) */
	PK_SOCK_FAMILY, /* socket_family_to_scap, u32 */
	PK_MOUNT_FLAGS, /* mount flags without MS_MGC_VAL */
	PK_CAP,         /* capabilities of current: aux 0 inheritable, 1 permitted, 2 effective */
	PK_RES_INT,     /* return value as a 4-byte int */
	PK_FCNTL_CMD,   /* fcntl_cmd_to_scap, u8 */
	PK_EPOLL_FLAGS, /* EPOLL_CLOEXEC -> PPM_EPOLL_CLOEXEC */
	PK_PIDFD_FLAGS, /* O_NONBLOCK -> PPM_PIDFD_NONBLOCK */
	PK_ZERO,        /* a `size`-byte zero (parameters no syscall argument carries) */
};

struct param_spec {
	__u8 kind;
	__u8 arg;
	__u8 size;
	__u8 aux;
};

#define MAX_TABLE_PARAMS 8

struct sc_spec {
	__u16 evt;
	__u8 nparams;
	__u8 pad;
	struct param_spec p[MAX_TABLE_PARAMS];
};

#define RES {PK_RES, 0, 8, 0}
#define FD(a) {PK_ARG_FD, a, 8, 0}
#define STR(a) {PK_ARG_STR, a, 0, 0}
#define U32(a) {PK_ARG, a, 4, 0}
#define U64(a) {PK_ARG, a, 8, 0}
#define U16(a) {PK_ARG, a, 2, 0}
#define U8(a) {PK_ARG, a, 1, 0}
#define MODE(a) {PK_MODE, a, 4, 0}
#define CLONEF(a) {PK_CLONE_FLAGS, a, 4, 0}
#define ATF(a) {PK_AT_FLAGS, a, 4, 0}
#define EMPTY {PK_EMPTY, 0, 0, 0}
#define CAP(w) {PK_CAP, 0, 8, w}

const volatile struct sc_spec sc_table[FRS_SYSCALL_TABLE_SIZE] = {
	[NR_open] = {PPME_SYSCALL_OPEN_X, 6,
	             0, {RES, STR(0), {PK_OPEN_FLAGS, 1, 4, 0}, {PK_OPEN_MODE, 2, 4, 1},
	                 {PK_RES_DEV, 0, 4, 0}, {PK_RES_INO, 0, 8, 0}}},
	[NR_openat] = {PPME_SYSCALL_OPENAT_2_X, 7,
	               0, {RES, FD(0), STR(1), {PK_OPEN_FLAGS, 2, 4, 0}, {PK_OPEN_MODE, 3, 4, 2},
	                   {PK_RES_DEV, 0, 4, 0}, {PK_RES_INO, 0, 8, 0}}},
	[NR_creat] = {PPME_SYSCALL_CREAT_X, 6,
	              0, {RES, STR(0), MODE(1), {PK_RES_DEV, 0, 4, 0}, {PK_RES_INO, 0, 8, 0},
	                  {PK_CREAT_FLAGS, 0, 2, 0}}},
	[NR_close] = {PPME_SYSCALL_CLOSE_X, 2, 0, {RES, FD(0)}},
	[NR_dup] = {PPME_SYSCALL_DUP_1_X, 2, 0, {RES, FD(0)}},
	[NR_dup2] = {PPME_SYSCALL_DUP2_X, 3, 0, {RES, FD(0), FD(1)}},
	[NR_dup3] = {PPME_SYSCALL_DUP3_X, 4, 0, {RES, FD(0), FD(1), {PK_CLOEXEC, 2, 4, 0}}},
	[NR_socket] = {PPME_SOCKET_SOCKET_X, 5,
	               0, {RES, {PK_SOCK_FAMILY, 0, 4, 0}, U32(1), U32(2), {PK_FILE_FLAGS, 1, 4, 0}}},
	[NR_listen] = {PPME_SOCKET_LISTEN_X, 3, 0, {RES, FD(0), {PK_ARG, 1, 4, 0}}},
	[NR_shutdown] = {PPME_SOCKET_SHUTDOWN_X, 3, 0, {RES, FD(0), U8(1)}},
	[NR_fcntl] = {PPME_SYSCALL_FCNTL_X, 4, 0, {RES, FD(0), {PK_FCNTL_CMD, 1, 1, 0}, U64(2)}},
	[NR_chdir] = {PPME_SYSCALL_CHDIR_X, 2, 0, {RES, STR(0)}},
	[NR_fchdir] = {PPME_SYSCALL_FCHDIR_X, 2, 0, {RES, FD(0)}},
	[NR_chroot] = {PPME_SYSCALL_CHROOT_X, 2, 0, {RES, STR(0)}},
	[NR_rename] = {PPME_SYSCALL_RENAME_X, 3, 0, {RES, STR(0), STR(1)}},
	[NR_renameat] = {PPME_SYSCALL_RENAMEAT_X, 5, 0, {RES, FD(0), STR(1), FD(2), STR(3)}},
	[NR_renameat2] = {PPME_SYSCALL_RENAMEAT2_X, 6, 0, {RES, FD(0), STR(1), FD(2), STR(3), U32(4)}},
	[NR_mkdir] = {PPME_SYSCALL_MKDIR_2_X, 3, 0, {RES, STR(0), U32(1)}},
	[NR_mkdirat] = {PPME_SYSCALL_MKDIRAT_X, 4, 0, {RES, FD(0), STR(1), U32(2)}},
	[NR_rmdir] = {PPME_SYSCALL_RMDIR_2_X, 2, 0, {RES, STR(0)}},
	[NR_link] = {PPME_SYSCALL_LINK_2_X, 3, 0, {RES, STR(0), STR(1)}},
	[NR_linkat] = {PPME_SYSCALL_LINKAT_2_X, 6, 0, {RES, FD(0), STR(1), FD(2), STR(3), ATF(4)}},
	[NR_unlink] = {PPME_SYSCALL_UNLINK_2_X, 2, 0, {RES, STR(0)}},
	[NR_unlinkat] = {PPME_SYSCALL_UNLINKAT_2_X, 4, 0, {RES, FD(0), STR(1), ATF(2)}},
	[NR_symlink] = {PPME_SYSCALL_SYMLINK_X, 3, 0, {RES, STR(0), STR(1)}},
	[NR_symlinkat] = {PPME_SYSCALL_SYMLINKAT_X, 4, 0, {RES, STR(0), FD(1), STR(2)}},
	[NR_chmod] = {PPME_SYSCALL_CHMOD_X, 3, 0, {RES, STR(0), MODE(1)}},
	[NR_fchmod] = {PPME_SYSCALL_FCHMOD_X, 3, 0, {RES, FD(0), MODE(1)}},
	[NR_fchmodat] = {PPME_SYSCALL_FCHMODAT_X, 4, 0, {RES, FD(0), STR(1), MODE(2)}},
	[NR_setuid] = {PPME_SYSCALL_SETUID_X, 2, 0, {RES, U32(0)}},
	[NR_setgid] = {PPME_SYSCALL_SETGID_X, 2, 0, {RES, U32(0)}},
	[NR_setreuid] = {PPME_SYSCALL_SETREUID_X, 3, 0, {RES, U32(0), U32(1)}},
	[NR_setregid] = {PPME_SYSCALL_SETREGID_X, 3, 0, {RES, U32(0), U32(1)}},
	[NR_setresuid] = {PPME_SYSCALL_SETRESUID_X, 4, 0, {RES, U32(0), U32(1), U32(2)}},
	[NR_setresgid] = {PPME_SYSCALL_SETRESGID_X, 4, 0, {RES, U32(0), U32(1), U32(2)}},
	[NR_setsid] = {PPME_SYSCALL_SETSID_X, 1, 0, {RES}},
	[NR_setns] = {PPME_SYSCALL_SETNS_X, 3, 0, {RES, FD(0), CLONEF(1)}},
	[NR_unshare] = {PPME_SYSCALL_UNSHARE_X, 2, 0, {RES, CLONEF(0)}},
	[NR_capset] = {PPME_SYSCALL_CAPSET_X, 4, 0, {RES, CAP(0), CAP(1), CAP(2)}},
	[NR_mount] = {PPME_SYSCALL_MOUNT_X, 5,
	              0, {RES, STR(0), STR(1), STR(2), {PK_MOUNT_FLAGS, 3, 4, 0}}},
	[NR_umount2] = {PPME_SYSCALL_UMOUNT2_X, 3, 0, {RES, STR(0), U32(1)}},
	[NR_finit_module] = {PPME_SYSCALL_FINIT_MODULE_X, 4, 0, {RES, FD(0), STR(1), U32(2)}},
	[NR_memfd_create] = {PPME_SYSCALL_MEMFD_CREATE_X, 3,
	                     0, {RES, STR(0), {PK_MEMFD_FLAGS, 1, 4, 0}}},
	[NR_bpf] = {PPME_SYSCALL_BPF_2_X, 2, 0, {RES, U32(0)}},
	[NR_userfaultfd] = {PPME_SYSCALL_USERFAULTFD_X, 2, 0, {RES, U32(0)}},
	[NR_epoll_create1] = {PPME_SYSCALL_EPOLL_CREATE1_X, 2, 0, {RES, {PK_EPOLL_FLAGS, 0, 4, 0}}},
	[NR_eventfd2] = {PPME_SYSCALL_EVENTFD2_X, 3, 0, {RES, {PK_FILE_FLAGS, 1, 2, 0}, U64(0)}},
	[NR_inotify_init1] = {PPME_SYSCALL_INOTIFY_INIT1_X, 2, 0, {RES, {PK_FILE_FLAGS, 0, 2, 0}}},
	[NR_pidfd_open] = {PPME_SYSCALL_PIDFD_OPEN_X, 3, 0, {RES, FD(0), {PK_PIDFD_FLAGS, 1, 4, 0}}},
	[NR_epoll_create] = {PPME_SYSCALL_EPOLL_CREATE_X, 2, 0, {RES, U32(0)}},
	[NR_eventfd] = {PPME_SYSCALL_EVENTFD_X, 3, 0, {RES, U64(0), {PK_ZERO, 0, 4, 0}}},
	[NR_signalfd] = {PPME_SYSCALL_SIGNALFD_X, 4,
	                 0, {RES, FD(0), {PK_ZERO, 0, 4, 0}, {PK_ZERO, 0, 1, 0}}},
	[NR_signalfd4] = {PPME_SYSCALL_SIGNALFD4_X, 4,
	                  0, {RES, {PK_FILE_FLAGS, 3, 2, 0}, FD(0), {PK_ZERO, 0, 4, 0}}},
	[NR_timerfd_create] = {PPME_SYSCALL_TIMERFD_CREATE_X, 3,
	                       0, {RES, U8(0), {PK_FILE_FLAGS, 1, 1, 0}}},
	[NR_inotify_init] = {PPME_SYSCALL_INOTIFY_INIT_X, 2, 0, {RES, {PK_ZERO, 0, 1, 0}}},
	[NR_pidfd_getfd] = {PPME_SYSCALL_PIDFD_GETFD_X, 4, 0, {RES, FD(0), FD(1), U32(2)}},
	[NR_close_range] = {PPME_SYSCALL_CLOSE_RANGE_X, 4, 0, {RES, U32(0), U32(1), U32(2)}},
};

/* ------------------------------------------------------------------------------------------ */
/* Event builder                                                                               */

struct ev {
	__u8 *buf;     /* scratch area */
	__u32 lens;    /* offset of the next parameter length */
	__u32 pos;     /* offset of the next parameter value */
	__u32 nparams; /* parameters declared in the header */
	__u32 n;       /* parameters pushed */
	__u16 type;
	__u8 overflow;
};

static __always_inline struct frs_settings *get_settings(void) {
	__u32 zero = 0;
	return bpf_map_lookup_elem(&settings, &zero);
}

static __always_inline struct frs_counters *get_counters(void) {
	__u32 zero = 0;
	return bpf_map_lookup_elem(&counters, &zero);
}

static __always_inline int ev_start(struct ev *ev, __u16 type, __u32 nparams) {
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch_area *s = bpf_map_lookup_elem(&scratch, &cpu);
	if(!s) {
		struct frs_counters *c = get_counters();
		if(c) {
			c->n_drops_scratch_map++;
		}
		return -1;
	}
	ev->buf = s->data;
	ev->type = type;
	ev->nparams = nparams;
	ev->n = 0;
	ev->lens = FRS_EVT_HDR_SIZE;
	ev->pos = FRS_EVT_HDR_SIZE + nparams * 2;
	ev->overflow = 0;
	return 0;
}

static __always_inline void ev_len(struct ev *ev, __u16 len) {
	*(__u16 *)&ev->buf[OFF(ev->lens)] = len;
	ev->lens += 2;
	ev->pos += len;
	ev->n++;
	if(ev->pos >= HALF) {
		ev->overflow = 1;
		ev->pos = HALF - 1;
	}
}

static __always_inline void push_u8(struct ev *ev, __u8 v) {
	ev->buf[OFF(ev->pos)] = v;
	ev_len(ev, 1);
}

static __always_inline void push_u16(struct ev *ev, __u16 v) {
	*(__u16 *)&ev->buf[OFF(ev->pos)] = v;
	ev_len(ev, 2);
}

static __always_inline void push_u32(struct ev *ev, __u32 v) {
	*(__u32 *)&ev->buf[OFF(ev->pos)] = v;
	ev_len(ev, 4);
}

static __always_inline void push_u64(struct ev *ev, __u64 v) {
	*(__u64 *)&ev->buf[OFF(ev->pos)] = v;
	ev_len(ev, 8);
}

static __always_inline void push_empty(struct ev *ev) {
	ev_len(ev, 0);
}

/* A user string (NUL included in the length); empty when unreadable or NULL. */
static __noinline void push_user_str(struct ev *ev, unsigned long ptr) {
	long n = 0;
	if(ptr) {
		n = bpf_probe_read_user_str(&ev->buf[OFF(ev->pos)], MAX_PATH, (void *)ptr);
	}
	ev_len(ev, n > 0 ? (__u16)n : 0);
}

static __noinline void push_kernel_str(struct ev *ev, const void *ptr, __u32 max) {
	long n = 0;
	if(ptr) {
		n = bpf_probe_read_kernel_str(&ev->buf[OFF(ev->pos)], max & (MAX_PATH - 1), ptr);
	}
	ev_len(ev, n > 0 ? (__u16)n : 0);
}

/* `len` bytes of user memory as a BYTEBUF, capped at `max`. */
static __noinline void push_user_bytes(struct ev *ev, unsigned long ptr, __u64 len, __u32 max) {
	if(len > max) {
		len = max;
	}
	if(len > MAX_ARGS - 1) {
		len = MAX_ARGS - 1;
	}
	if(!ptr || len == 0 ||
	   bpf_probe_read_user(&ev->buf[OFF(ev->pos)], len & (MAX_ARGS - 1), (void *)ptr) != 0) {
		push_empty(ev);
		return;
	}
	ev_len(ev, (__u16)len);
}

/* libs reads at most MAX_IOVCNT iovecs of a msghdr. */
#define MAX_IOVCNT 32
/* Scratch offset where a msghdr's iovec array is staged (32 x 16 bytes). */
#define IOV_STAGE (HALF + 12288)

/* Reads the iovec array (at most MAX_IOVCNT entries) into the scratch stage: the number of
 * entries, or -1 when it cannot be read. */
static __noinline long stage_iovecs(struct ev *ev, unsigned long iov, unsigned long cnt) {
	if(cnt > MAX_IOVCNT) {
		cnt = MAX_IOVCNT;
	}
	if(!iov || cnt == 0) {
		return cnt == 0 ? 0 : -1;
	}
	__u32 size = (__u32)cnt * sizeof(struct iovec);
	if(bpf_probe_read_user(&ev->buf[IOV_STAGE], size & (MAX_IOVCNT * sizeof(struct iovec) * 2 - 1),
	                       (void *)iov)) {
		return -1;
	}
	return (long)cnt;
}

/* The data of `n` staged iovecs as libs 0.25.4 stores it (auxmap__store_iovec_data_param_64):
 * the buffers concatenated, each read whole (its length taken as a u16, here at most
 * MAX_ARGS - 1), stopping at the first empty or unreadable one, cut at `len` bytes; empty when
 * the array could not be read. The cursor is re-masked each round so that the verifier keeps
 * one state per iteration. */
static __noinline void push_iovec_data(struct ev *ev, long n, __u32 len) {
	if(n < 0) {
		push_empty(ev);
		return;
	}
	if(len > MAX_ARGS - 1) {
		len = MAX_ARGS - 1;
	}
	struct iovec *v = (struct iovec *)&ev->buf[IOV_STAGE];
	__u32 total = 0;
	for(int j = 0; j < MAX_IOVCNT && j < n && total < len; j++) {
		__u32 l = (__u16)v[j].iov_len;
		if(l > MAX_ARGS - 1) {
			l = MAX_ARGS - 1;
		}
		if(l == 0 || bpf_probe_read_user(&ev->buf[OFF(ev->pos + total)], l, v[j].iov_base)) {
			break;
		}
		total = (total + l) & (2 * MAX_ARGS - 1);
	}
	ev_len(ev, (__u16)(total < len ? total : len));
}

/* Sum of the staged iovecs' lengths, as a u32 (libs extract__iovec_size); 0 when unreadable. */
static __always_inline __u32 iovecs_size(struct ev *ev, long n) {
	struct iovec *v = (struct iovec *)&ev->buf[IOV_STAGE];
	__u32 size = 0;
	for(int j = 0; j < MAX_IOVCNT; j++) {
		if(j >= n) {
			break;
		}
		size += (__u32)v[j].iov_len;
	}
	return size;
}

/* Exactly `len` bytes of user memory (up to MAX_ARGS - 1) as a BYTEBUF, or empty when they
 * cannot be read (libs auxmap__store_bytebuf_param). */
static __noinline void push_user_bytes_exact(struct ev *ev, unsigned long ptr, __u64 len) {
	if(!ptr || len == 0 || len > MAX_ARGS - 1 ||
	   bpf_probe_read_user(&ev->buf[OFF(ev->pos)], len & (MAX_ARGS - 1), (void *)ptr)) {
		push_empty(ev);
		return;
	}
	ev_len(ev, (__u16)len);
}

static __always_inline __u8 counters_category_drop(struct frs_counters *c, __u16 type) {
	switch(type) {
	case PPME_SYSCALL_CLONE_20_X:
	case PPME_SYSCALL_CLONE3_X:
	case PPME_SYSCALL_FORK_20_X:
	case PPME_SYSCALL_VFORK_20_X:
		c->n_drops_buffer_clone_fork_exit++;
		break;
	case PPME_SYSCALL_EXECVE_19_X:
	case PPME_SYSCALL_EXECVEAT_X:
		c->n_drops_buffer_execve_exit++;
		break;
	case PPME_SOCKET_CONNECT_E:
		c->n_drops_buffer_connect_enter++;
		break;
	case PPME_SOCKET_CONNECT_X:
		c->n_drops_buffer_connect_exit++;
		break;
	case PPME_SYSCALL_OPEN_E:
	case PPME_SYSCALL_OPENAT_2_E:
	case PPME_SYSCALL_OPENAT2_E:
	case PPME_SYSCALL_CREAT_E:
		c->n_drops_buffer_open_enter++;
		break;
	case PPME_SYSCALL_OPEN_X:
	case PPME_SYSCALL_OPENAT_2_X:
	case PPME_SYSCALL_OPENAT2_X:
	case PPME_SYSCALL_CREAT_X:
		c->n_drops_buffer_open_exit++;
		break;
	case PPME_SYSCALL_MKDIR_2_X:
	case PPME_SYSCALL_MKDIRAT_X:
	case PPME_SYSCALL_RMDIR_2_X:
	case PPME_SYSCALL_UNLINK_2_X:
	case PPME_SYSCALL_UNLINKAT_2_X:
	case PPME_SYSCALL_RENAME_X:
	case PPME_SYSCALL_RENAMEAT_X:
	case PPME_SYSCALL_RENAMEAT2_X:
	case PPME_SYSCALL_LINK_2_X:
	case PPME_SYSCALL_LINKAT_2_X:
	case PPME_SYSCALL_SYMLINK_X:
	case PPME_SYSCALL_SYMLINKAT_X:
	case PPME_SYSCALL_CHDIR_X:
	case PPME_SYSCALL_FCHDIR_X:
		c->n_drops_buffer_dir_file_exit++;
		break;
	case PPME_SYSCALL_CLOSE_X:
		c->n_drops_buffer_close_exit++;
		break;
	case PPME_PROCEXIT_1_E:
		c->n_drops_buffer_proc_exit++;
		break;
	default:
		if(type & 1) {
			c->n_drops_buffer_other_interest_exit++;
		} else {
			c->n_drops_buffer_other_interest_enter++;
		}
		break;
	}
	return 0;
}

/* Where the current CPU's next record of at most FRS_MAX_EVENT_SIZE bytes goes: the
 * producer side of the per-CPU rings (falco_rs.h). No atomics: each CPU's ring has this one
 * writer, running with preemption off, and userspace only moves `tail`. */
struct ring_slot {
	struct frs_ring_pos *pos;
	__u8 *at;
	__u64 head; /* head before the record */
};

static __always_inline int ring_reserve(const struct frs_settings *st, struct ring_slot *slot) {
	__u32 cpu = bpf_get_smp_processor_id();
	struct frs_ring_pos *pos = bpf_map_lookup_elem(&ring_pos, &cpu);
	if(!pos) {
		return -1;
	}
	__u64 head = pos->head;
	__u32 cur = (__u32)pos->cur;
	if((__u32)head >= FRS_RING_CHUNK) {
		/* this chunk is full: the next one, unless userspace still reads it */
		__u32 seq = (__u32)(head >> 32) + 1;
		__u32 tail_seq = (__u32)(*(volatile __u64 *)&pos->tail >> 32);
		__u32 k = st->ring_chunks;
		if(k < 2 || seq - tail_seq >= k) {
			return -1;
		}
		head = (__u64)seq << 32;
		cur = cpu * k + seq % k;
		pos->cur = cur;
	}
	__u8 *elem = bpf_map_lookup_elem(&rings, &cur);
	if(!elem) {
		return -1;
	}
	slot->pos = pos;
	slot->head = head;
	/* the mask is what the verifier needs to bound the record (it is a no-op here) */
	__u64 off = (__u32)head;
	asm volatile("%[x] &= %[m]" : [x] "+r"(off) : [m] "i"(FRS_RING_CHUNK - 1));
	slot->at = elem + off;
	return 0;
}

/* Publishes the `len`-byte record written at slot->at (records stay 8-byte aligned). */
static __always_inline void ring_commit(struct ring_slot *slot, __u32 len) {
	asm volatile("" ::: "memory");
	slot->pos->head = slot->head + ((len + 7) & ~7u);
}

/* Header of a record written in place in the ring buffer (fixed-size events). */
static __always_inline void rec_header(__u8 *r, const struct frs_settings *st, __u32 len,
                                       __u16 type, __u32 nparams) {
	*(__u64 *)&r[0] = bpf_ktime_get_boot_ns() + st->boot_time_ns;
	*(__u64 *)&r[8] = bpf_get_current_pid_tgid() & 0xffffffff;
	*(__u32 *)&r[16] = len;
	*(__u16 *)&r[20] = type;
	*(__u32 *)&r[22] = nparams;
}

/* Writes the header of the record of `len` bytes built in `data` (scratch) and hands it to
 * the CPU's ring buffer, counting it or its drop. */
static __always_inline int rec_submit(__u8 *data, __u32 len, __u16 type, __u32 nparams,
                                      __u64 tid) {
	struct frs_counters *c = get_counters();
	struct frs_settings *st = get_settings();
	if(!c || !st) {
		return 0;
	}
	*(__u64 *)&data[0] = bpf_ktime_get_boot_ns() + st->boot_time_ns;
	*(__u64 *)&data[8] = tid;
	*(__u32 *)&data[16] = len;
	*(__u16 *)&data[20] = type;
	*(__u32 *)&data[22] = nparams;

	len &= (HALF - 1);
	if(len < FRS_EVT_HDR_SIZE) {
		return 0;
	}
	struct ring_slot slot;
	long err = ring_reserve(st, &slot);
	if(!err) {
		err = bpf_probe_read_kernel(slot.at, len, data);
		if(!err) {
			ring_commit(&slot, len);
		}
	}
	if(err) {
		c->n_drops_buffer++;
		counters_category_drop(c, type);
	} else {
		c->n_evts++;
	}
	return 0;
}

/* Hands a built event to the CPU's ring buffer (its parameter count checked). */
static __noinline int ev_submit(struct ev *ev, __u64 tid) {
	if(ev->overflow || ev->n != ev->nparams) {
		struct frs_counters *c = get_counters();
		if(c) {
			c->n_drops_max_event_size++;
		}
		return 0;
	}
	return rec_submit(ev->buf, ev->pos, ev->type, ev->nparams, tid);
}

/* ------------------------------------------------------------------------------------------ */
/* Kernel data helpers                                                                         */

/* Syscall argument i from the saved registers. tp_btf hands us a BTF pointer, so these are
 * direct loads rather than probe-read helper calls (this runs on every captured syscall). */
static __always_inline unsigned long sc_arg(struct pt_regs *regs, int i) {
	switch(i) {
	case 0:
		return regs->di;
	case 1:
		return regs->si;
	case 2:
		return regs->dx;
	case 3:
		return regs->r10;
	case 4:
		return regs->r8;
	case 5:
		return regs->r9;
	default:
		return 0;
	}
}

/* The struct file of `fd` in `task` (a BTF pointer: the table walk is direct loads). */
static __always_inline struct file *fd_to_file(struct task_struct *task, long fd) {
	if(fd < 0) {
		return NULL;
	}
	struct files_struct *files = task->files;
	if(!files) {
		return NULL;
	}
	struct fdtable *fdt = files->fdt;
	if(!fdt || (unsigned long)fd >= fdt->max_fds) {
		return NULL;
	}
	struct file **fds = fdt->fd;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline __u32 encode_dev(__u32 dev) {
	__u32 major = dev >> 20;
	__u32 minor = dev & ((1u << 20) - 1);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

/* Identity of an opened file for the open exits: PPM_O_F_CREATED, encoded dev, inode number. */
struct file_id {
	__u32 created;
	__u32 dev;
	__u64 ino;
};

/* Two fields of one kernel struct that lie within FIELD_SPAN bytes of each other are read
 * with one helper call (each probe read costs ~7 ns) into `stage` (scratch memory: map
 * values allow the unaligned loads that stack slots do not). */
#define FIELD_SPAN 64
#define FIELD_PAIR_FITS(lo, a, b) ((a) - (lo) <= FIELD_SPAN - 8 && (b) - (lo) <= FIELD_SPAN - 8)

/* f_mode and f_inode of `file`, then i_sb and i_ino of its inode (4 helper calls with
 * the fd table read instead of 6; field by field where a kernel's layout spreads them). */
static __always_inline void file_identity(__u8 *stage, struct file *file, struct file_id *id) {
	__u32 o_mode = bpf_core_field_offset(struct file, f_mode);
	__u32 o_inode = bpf_core_field_offset(struct file, f_inode);
	__u32 lo = o_mode < o_inode ? o_mode : o_inode;
	struct inode *inode = NULL;
	__u32 mode = 0;
	if(FIELD_PAIR_FITS(lo, o_mode, o_inode) &&
	   bpf_probe_read_kernel(stage, FIELD_SPAN, (__u8 *)file + lo) == 0) {
		mode = *(__u32 *)&stage[(o_mode - lo) & (FIELD_SPAN - 1)];
		inode = *(struct inode **)&stage[(o_inode - lo) & (FIELD_SPAN - 1)];
	} else {
		mode = BPF_CORE_READ(file, f_mode);
		inode = BPF_CORE_READ(file, f_inode);
	}
	id->created = (mode & FMODE_CREATED_BIT) ? 1 : 0;
	if(!inode) {
		return;
	}
	__u32 o_sb = bpf_core_field_offset(struct inode, i_sb);
	__u32 o_ino = bpf_core_field_offset(struct inode, i_ino);
	lo = o_sb < o_ino ? o_sb : o_ino;
	struct super_block *sb = NULL;
	if(FIELD_PAIR_FITS(lo, o_sb, o_ino) &&
	   bpf_probe_read_kernel(stage, FIELD_SPAN, (__u8 *)inode + lo) == 0) {
		sb = *(struct super_block **)&stage[(o_sb - lo) & (FIELD_SPAN - 1)];
		id->ino = *(__u64 *)&stage[(o_ino - lo) & (FIELD_SPAN - 1)];
	} else {
		sb = BPF_CORE_READ(inode, i_sb);
		id->ino = BPF_CORE_READ(inode, i_ino);
	}
	if(sb) {
		id->dev = encode_dev(BPF_CORE_READ(sb, s_dev));
	}
}

static __always_inline __u32 open_flags_to_scap(__u32 flags) {
	__u32 res = 0;
	switch(flags & O_ACCMODE) {
	case O_WRONLY:
		res |= PPM_O_WRONLY;
		break;
	case O_RDWR:
		res |= PPM_O_RDWR;
		break;
	default:
		res |= PPM_O_RDONLY;
		break;
	}
	if(flags & O_CREAT)
		res |= PPM_O_CREAT;
	if((flags & O_TMPFILE) == O_TMPFILE)
		res |= PPM_O_TMPFILE;
	if(flags & O_APPEND)
		res |= PPM_O_APPEND;
	if(flags & O_DSYNC)
		res |= PPM_O_DSYNC;
	if(flags & O_EXCL)
		res |= PPM_O_EXCL;
	if(flags & O_NONBLOCK)
		res |= PPM_O_NONBLOCK;
	if((flags & (__O_SYNC | O_DSYNC)) == (__O_SYNC | O_DSYNC))
		res |= PPM_O_SYNC;
	if(flags & O_TRUNC)
		res |= PPM_O_TRUNC;
	if(flags & O_DIRECT)
		res |= PPM_O_DIRECT;
	if((flags & O_DIRECTORY) && (flags & O_TMPFILE) != O_TMPFILE)
		res |= PPM_O_DIRECTORY;
	if(flags & O_LARGEFILE)
		res |= PPM_O_LARGEFILE;
	if(flags & O_CLOEXEC)
		res |= PPM_O_CLOEXEC;
	return res;
}

static __always_inline __u32 clone_flags_to_scap(unsigned long f) {
	__u32 res = 0;
	if(f & 0x00000400) res |= 1 << 0;   /* CLONE_FILES */
	if(f & 0x00000200) res |= 1 << 1;   /* CLONE_FS */
	if(f & 0x80000000) res |= 1 << 2;   /* CLONE_IO */
	if(f & 0x08000000) res |= 1 << 3;   /* CLONE_NEWIPC */
	if(f & 0x40000000) res |= 1 << 4;   /* CLONE_NEWNET */
	if(f & 0x00020000) res |= 1 << 5;   /* CLONE_NEWNS */
	if(f & 0x20000000) res |= 1 << 6;   /* CLONE_NEWPID */
	if(f & 0x04000000) res |= 1 << 7;   /* CLONE_NEWUTS */
	if(f & 0x00100000) res |= 1 << 9;   /* CLONE_PARENT_SETTID */
	if(f & 0x00008000) res |= 1 << 8;   /* CLONE_PARENT */
	if(f & 0x00002000) res |= 1 << 10;  /* CLONE_PTRACE */
	if(f & 0x00000800) res |= 1 << 11;  /* CLONE_SIGHAND */
	if(f & 0x00040000) res |= 1 << 12;  /* CLONE_SYSVSEM */
	if(f & 0x00010000) res |= 1 << 13;  /* CLONE_THREAD */
	if(f & 0x00800000) res |= 1 << 14;  /* CLONE_UNTRACED */
	if(f & 0x00000100) res |= 1 << 15;  /* CLONE_VM */
	if(f & 0x10000000) res |= 1 << 20;  /* CLONE_NEWUSER */
	if(f & 0x00200000) res |= 1 << 23;  /* CLONE_CHILD_CLEARTID */
	if(f & 0x01000000) res |= 1 << 24;  /* CLONE_CHILD_SETTID */
	if(f & 0x00080000) res |= 1 << 25;  /* CLONE_SETTLS */
	if(f & 0x00004000) res |= 1 << 27;  /* CLONE_VFORK */
	if(f & 0x02000000) res |= 1 << 28;  /* CLONE_NEWCGROUP */
	return res;
}

/* fcntl_cmd_to_scap: the PPM_FCNTL_* enum. */
static __always_inline __u8 fcntl_cmd_to_scap(unsigned long cmd) {
	switch(cmd) {
	case 0: return 1;     /* F_DUPFD */
	case 1: return 2;     /* F_GETFD */
	case 2: return 3;     /* F_SETFD */
	case 3: return 4;     /* F_GETFL */
	case 4: return 5;     /* F_SETFL */
	case 5: return 6;     /* F_GETLK (== F_GETLK64 on x86-64) */
	case 6: return 8;     /* F_SETLK */
	case 7: return 9;     /* F_SETLKW */
	case 8: return 10;    /* F_SETOWN */
	case 9: return 12;    /* F_GETOWN */
	case 10: return 13;   /* F_SETSIG */
	case 11: return 15;   /* F_GETSIG */
	case 15: return 21;   /* F_SETOWN_EX */
	case 16: return 22;   /* F_GETOWN_EX */
	case 1024: return 23; /* F_SETLEASE */
	case 1025: return 24; /* F_GETLEASE */
	case 1029: return 25; /* F_CANCELLK */
	case 1030: return 26; /* F_DUPFD_CLOEXEC */
	case 1026: return 27; /* F_NOTIFY */
	case 1031: return 28; /* F_SETPIPE_SZ */
	case 1032: return 29; /* F_GETPIPE_SZ */
	case 36: return 30;   /* F_OFD_GETLK */
	case 37: return 31;   /* F_OFD_SETLK */
	case 38: return 32;   /* F_OFD_SETLKW */
	default: return 0;    /* PPM_FCNTL_UNKNOWN */
	}
}

/* ptrace_requests_to_scap: the PPM_PTRACE_* enum. */
static __always_inline __u16 ptrace_req_to_scap(unsigned long req) {
	switch(req) {
	case 0: return 1;       /* TRACEME */
	case 1: return 2;       /* PEEKTEXT */
	case 2: return 3;       /* PEEKDATA */
	case 3: return 4;       /* PEEKUSR */
	case 4: return 5;       /* POKETEXT */
	case 5: return 6;       /* POKEDATA */
	case 6: return 7;       /* POKEUSR */
	case 7: return 8;       /* CONT */
	case 8: return 9;       /* KILL */
	case 9: return 10;      /* SINGLESTEP */
	case 16: return 11;     /* ATTACH */
	case 17: return 12;     /* DETACH */
	case 24: return 13;     /* SYSCALL */
	case 0x4200: return 14; /* SETOPTIONS */
	case 0x4201: return 15; /* GETEVENTMSG */
	case 0x4202: return 16; /* GETSIGINFO */
	case 0x4203: return 17; /* SETSIGINFO */
	case 0x4204: return 18; /* GETREGSET */
	case 0x4205: return 19; /* SETREGSET */
	case 0x4206: return 20; /* SEIZE */
	case 0x4207: return 21; /* INTERRUPT */
	case 0x4208: return 22; /* LISTEN */
	case 0x4209: return 23; /* PEEKSIGINFO */
	case 0x420a: return 24; /* GETSIGMASK */
	case 0x420b: return 25; /* SETSIGMASK */
	case 12: return 26;     /* GETREGS */
	case 13: return 27;     /* SETREGS */
	case 14: return 28;     /* GETFPREGS */
	case 15: return 29;     /* SETFPREGS */
	case 18: return 30;     /* GETFPXREGS */
	case 19: return 31;     /* SETFPXREGS */
	case 21: return 32;     /* OLDSETOPTIONS */
	case 25: return 33;     /* GET_THREAD_AREA */
	case 26: return 34;     /* SET_THREAD_AREA */
	case 30: return 35;     /* ARCH_PRCTL */
	case 31: return 36;     /* SYSEMU */
	case 32: return 37;     /* SYSEMU_SINGLESTEP */
	case 33: return 38;     /* SINGLEBLOCK */
	default: return 0;      /* PPM_PTRACE_UNKNOWN */
	}
}

static __always_inline __u8 socket_family_to_scap(__u8 family) {
	/* PPM_AF_* equal the Linux values for every family the kernel defines today. */
	return family;
}

static __always_inline __u64 task_cap(struct task_struct *task, int which) {
	const struct cred *cred = BPF_CORE_READ(task, cred);
	kernel_cap_t cap;
	__builtin_memset(&cap, 0, sizeof(cap));
	if(which == 0)
		BPF_CORE_READ_INTO(&cap, cred, cap_inheritable);
	else if(which == 1)
		BPF_CORE_READ_INTO(&cap, cred, cap_permitted);
	else
		BPF_CORE_READ_INTO(&cap, cred, cap_effective);
	return cap.val;
}

static __always_inline struct pid *task_pid_of(struct task_struct *task, enum pid_type type) {
	if(type == PIDTYPE_PID) {
		return BPF_CORE_READ(task, thread_pid);
	}
	return BPF_CORE_READ(task, signal, pids[type]);
}

/* numbers[level] of a struct pid, read by offset (aya rejects CO-RE accesses into the
 * flexible array). */
static __always_inline struct upid pid_upid(struct pid *pid, unsigned int level) {
	struct upid up;
	__builtin_memset(&up, 0, sizeof(up));
	if(pid) {
		__u64 off = bpf_core_field_offset(struct pid, numbers);
		bpf_probe_read_kernel(&up, sizeof(up),
		                      (char *)pid + off + (level & 31) * bpf_core_type_size(struct upid));
	}
	return up;
}

/* The id in the initial namespace (level 0). */
static __always_inline __s64 pid_nr_global(struct pid *pid) {
	return pid_upid(pid, 0).nr;
}

/* The id as the pid's own (deepest) namespace sees it. */
static __always_inline __s64 pid_nr_own(struct pid *pid) {
	if(!pid) {
		return 0;
	}
	unsigned int level = BPF_CORE_READ(pid, level);
	return pid_upid(pid, level).nr;
}

static __always_inline __u32 task_tty(struct task_struct *task) {
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if(!tty) {
		return 0;
	}
	struct tty_driver *drv = BPF_CORE_READ(tty, driver);
	if(!drv) {
		return 0;
	}
	int index = BPF_CORE_READ(tty, index);
	int major = BPF_CORE_READ(drv, major);
	int minor_start = BPF_CORE_READ(drv, minor_start);
	__u32 dev = ((__u32)major << 20) | (__u32)minor_start;
	return encode_dev(dev + index);
}

static __always_inline __u64 mm_counter(struct mm_struct *mm, int i) {
	__s64 v = 0;
	BPF_CORE_READ_INTO(&v, mm, rss_stat[i].count);
	return v > 0 ? v : 0;
}

/* exe (argv[0]) and args (the rest, NUL-separated) from the task's argument area. */
static __noinline void push_exe_args_from_mm(struct ev *ev, struct task_struct *task) {
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	long n = 0;
	if(start && end > start) {
		n = bpf_probe_read_user_str(&ev->buf[OFF(ev->pos)], MAX_PATH, (void *)start);
	}
	if(n <= 0) {
		push_empty(ev);
		push_empty(ev);
		return;
	}
	ev_len(ev, (__u16)n);
	push_user_bytes(ev, start + n, end - start - n, MAX_ARGS - 1);
}

/* max(m, 0) without a branch, so that loops below keep one verifier state per iteration. */
static __always_inline __u32 nonneg(long m) {
	__u64 v = (__u64)m;
	__u64 sign = v >> 63;
	v &= sign - 1;
	asm volatile("%[v] &= 0xfff" : [v] "+r"(v));
	return (__u32)v;
}

/* exe and args from a user `argv` array (failed execve: the old image is still mapped). */
static __noinline void push_exe_args_from_argv(struct ev *ev, unsigned long argv) {
	unsigned long p = 0;
	long n = 0;
	if(argv) {
		bpf_probe_read_user(&p, sizeof(p), (void *)argv);
	}
	if(p) {
		n = bpf_probe_read_user_str(&ev->buf[OFF(ev->pos)], MAX_PATH, (void *)p);
	}
	if(n <= 0) {
		push_empty(ev);
		push_empty(ev);
		return;
	}
	ev_len(ev, (__u16)n);
	__u32 total = 0;
	__u32 stop = 0;
#pragma unroll
	for(int i = 1; i < MAX_ARGV; i++) {
		p = 0;
		if(!stop) {
			bpf_probe_read_user(&p, sizeof(p), (void *)(argv + i * sizeof(p)));
		}
		if(!p) {
			stop = 1;
		}
		long m = bpf_probe_read_user_str(&ev->buf[OFF(ev->pos + total)], MAX_NAME, (void *)p);
		total += nonneg(m);
	}
	ev_len(ev, (__u16)total);
}

/* Writes "/names[n-1]/.../names[0]" at ev->pos + off (NULL names skipped); returns the new
 * offset. */
static __always_inline __u32 emit_components(struct ev *ev, __u64 *names, __u32 off) {
#pragma unroll
	for(int i = MAX_PATH_COMPONENTS - 1; i >= 0; i--) {
		ev->buf[OFF(ev->pos + off)] = '/';
		long m = bpf_probe_read_kernel_str(&ev->buf[OFF(ev->pos + off + 1)], MAX_NAME,
		                                   (void *)names[i]);
		off += nonneg(m);
		asm volatile("%[o] &= 0xfff" : [o] "+r"(off));
	}
	return off;
}

/* Path of a file within its mount tree, built by walking dentry parents (bpf_d_path is not
 * allowed in tp_btf programs). */
static __noinline void push_file_path(struct ev *ev, struct file *file) {
	if(!file) {
		push_empty(ev);
		return;
	}
	struct dentry *d = BPF_CORE_READ(file, f_path.dentry);
	struct vfsmount *vmnt = BPF_CORE_READ(file, f_path.mnt);
	struct mount *mnt = container_of(vmnt, struct mount, mnt);
	__u64 *names = (__u64 *)&ev->buf[HALF + 16384];
	__u32 done = 0;
#pragma unroll
	for(int i = 0; i < MAX_PATH_COMPONENTS; i++) {
		names[i] = 0;
		if(!done) {
			struct dentry *root = BPF_CORE_READ(mnt, mnt.mnt_root);
			if(d == root) {
				struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
				if(parent == mnt) {
					done = 1;
				} else {
					d = BPF_CORE_READ(mnt, mnt_mountpoint);
					mnt = parent;
				}
			} else {
				struct dentry *up = BPF_CORE_READ(d, d_parent);
				if(up == d) {
					done = 1;
				} else {
					names[i] = (__u64)BPF_CORE_READ(d, d_name.name);
					d = up;
				}
			}
		}
	}
	__u32 off = emit_components(ev, names, 0);
	if(off == 0) {
		/* No component: the dentry where the walk stopped names the file, as in libs
		 * ("/" for the root, "memfd:NAME" for a memfd, which has no path). */
		push_kernel_str(ev, BPF_CORE_READ(d, d_name.name), MAX_NAME);
		return;
	}
	ev->buf[OFF(ev->pos + off)] = 0;
	ev_len(ev, (__u16)(off + 1));
}

/* cgroups: "subsys=path\0" for the subsystems libs report (cpuset, cpu, cpuacct, io,
 * memory), their ids resolved against the running kernel. */
static __noinline void push_cgroups(struct ev *ev, struct task_struct *task) {
	struct css_set *cset = BPF_CORE_READ(task, cgroups);
	__u64 *names = (__u64 *)&ev->buf[HALF + 16384];
	__u32 total = 0;
	int ids[5] = {
	        bpf_core_enum_value_exists(enum cgroup_subsys_id, cpuset_cgrp_id)
	                ? bpf_core_enum_value(enum cgroup_subsys_id, cpuset_cgrp_id)
	                : -1,
	        bpf_core_enum_value_exists(enum cgroup_subsys_id, cpu_cgrp_id)
	                ? bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id)
	                : -1,
	        bpf_core_enum_value_exists(enum cgroup_subsys_id, cpuacct_cgrp_id)
	                ? bpf_core_enum_value(enum cgroup_subsys_id, cpuacct_cgrp_id)
	                : -1,
	        bpf_core_enum_value_exists(enum cgroup_subsys_id, io_cgrp_id)
	                ? bpf_core_enum_value(enum cgroup_subsys_id, io_cgrp_id)
	                : -1,
	        bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)
	                ? bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id)
	                : -1,
	};
#pragma unroll
	for(int i = 0; i < 5; i++) {
		struct cgroup_subsys_state *css = NULL;
		if(ids[i] >= 0) {
			bpf_probe_read_kernel(&css, sizeof(css), &cset->subsys[ids[i] & 15]);
		}
		const char *name = NULL;
		if(css) {
			name = BPF_CORE_READ(css, ss, name);
		}
		long m = bpf_probe_read_kernel_str(&ev->buf[OFF(ev->pos + total)], 32, name);
		if(m > 0) {
			total += m - 1;
			ev->buf[OFF(ev->pos + total)] = '=';
			total++;
			struct kernfs_node *kn = BPF_CORE_READ(css, cgroup, kn);
#pragma unroll
			for(int j = 0; j < MAX_PATH_COMPONENTS; j++) {
				struct kernfs_node *parent = NULL;
				if(kn) {
					parent = (struct kernfs_node *)BPF_CORE_READ(kn, __parent);
				}
				names[j] = parent ? (__u64)BPF_CORE_READ(kn, name) : 0;
				kn = parent;
			}
			struct ev sub = *ev;
			sub.pos = ev->pos + total;
			__u32 off = emit_components(&sub, names, 0);
			if(off == 0) {
				ev->buf[OFF(sub.pos)] = '/';
				off = 1;
			}
			total += off;
			ev->buf[OFF(ev->pos + total)] = 0;
			total++;
		}
		/* Same verifier state whichever branch was taken. */
		asm volatile("%[t] &= 0xfff" : [t] "+r"(total));
		if(total > MAX_ARGS - 2048) {
			break;
		}
	}
	ev_len(ev, (__u16)total);
}

/* Parameters 2..15 shared by the clone and execve exit events: exe, args, tid, pid, ptid,
 * cwd, fdlimit, pgft_maj, pgft_min, vm_size, vm_rss, vm_swap, comm, cgroups. */
static __noinline void push_task_common(struct ev *ev, struct task_struct *task, int from_mm,
                                        unsigned long argv) {
	if(from_mm) {
		push_exe_args_from_mm(ev, task);
	} else {
		push_exe_args_from_argv(ev, argv);
	}
	push_u64(ev, (__u64)BPF_CORE_READ(task, pid));
	push_u64(ev, (__u64)BPF_CORE_READ(task, tgid));
	push_u64(ev, (__u64)BPF_CORE_READ(task, real_parent, pid));
	push_empty(ev); /* cwd: libsinsp keeps it from the parent and chdir events */
	push_u64(ev, BPF_CORE_READ(task, signal, rlim[7].rlim_cur)); /* RLIMIT_NOFILE */
	push_u64(ev, BPF_CORE_READ(task, maj_flt));
	push_u64(ev, BPF_CORE_READ(task, min_flt));
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u32 vm_size = 0, vm_rss = 0, vm_swap = 0;
	if(mm) {
		vm_size = BPF_CORE_READ(mm, total_vm) << 2; /* pages -> KiB (4 KiB pages) */
		vm_rss = (mm_counter(mm, 0) + mm_counter(mm, 1) + mm_counter(mm, 3)) << 2;
		vm_swap = mm_counter(mm, 2) << 2;
	}
	push_u32(ev, vm_size);
	push_u32(ev, vm_rss);
	push_u32(ev, vm_swap);
	push_kernel_str(ev, &task->comm, 16);
	push_cgroups(ev, task);
}

static __always_inline int exe_from_memfd(struct file *exe) {
	struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
	if(!d || BPF_CORE_READ(d, d_parent) != d) {
		return 0;
	}
	char name[7] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(d, d_name.name));
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' &&
	       name[4] == 'd' && name[5] == ':';
}

#define PPM_EXE_WRITABLE (1 << 0)
#define PPM_EXE_UPPER_LAYER (1 << 1)
#define PPM_EXE_LOWER_LAYER (1 << 3)
#define OVERLAYFS_SUPER_MAGIC 0x794c7630

/* Whether `task` may write its executable's inode (libs' EXE_WRITABLE: read-only or immutable
 * files never are; the owner always is; else the mode bits for owner/group/other, or
 * CAP_DAC_OVERRIDE / CAP_FOWNER). Supplementary groups are not searched. */
static __always_inline int exe_writable(struct task_struct *task, struct inode *ino) {
	__u16 mode = BPF_CORE_READ(ino, i_mode);
	if((BPF_CORE_READ(ino, i_sb, s_flags) & 1 /* SB_RDONLY */) ||
	   (BPF_CORE_READ(ino, i_flags) & 8 /* S_IMMUTABLE */)) {
		return 0;
	}
	__u32 uid = BPF_CORE_READ(ino, i_uid.val);
	__u32 gid = BPF_CORE_READ(ino, i_gid.val);
	if(uid == (__u32)-1 || gid == (__u32)-1) {
		return 0;
	}
	__u32 fsuid = BPF_CORE_READ(task, cred, fsuid.val);
	if(fsuid == uid) {
		return 1;
	}
	if(BPF_CORE_READ(task, cred, fsgid.val) == gid) {
		mode >>= 3;
	}
	if(mode & 2 /* MAY_WRITE */) {
		return 1;
	}
	__u64 eff = task_cap(task, 2);
	return (eff & (1ull << 1 /* CAP_DAC_OVERRIDE */)) || (eff & (1ull << 3 /* CAP_FOWNER */));
}

/* PPM_EXE_UPPER_LAYER / PPM_EXE_LOWER_LAYER for an executable on overlayfs: the overlay
 * inode's upper dentry follows its embedded vfs inode. */
static __always_inline __u32 exe_overlay_layer(struct file *exe) {
	struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
	if(BPF_CORE_READ(d, d_sb, s_magic) != OVERLAYFS_SUPER_MAGIC) {
		return 0;
	}
	char *vfs_inode = (char *)BPF_CORE_READ(d, d_inode);
	struct dentry *upper = NULL;
	bpf_probe_read_kernel(&upper, sizeof(upper), vfs_inode + bpf_core_type_size(struct inode));
	if(upper && BPF_CORE_READ(upper, d_inode, i_ino) != 0) {
		return PPM_EXE_UPPER_LAYER;
	}
	return PPM_EXE_LOWER_LAYER;
}

/* execve/execveat exit (31/30 parameters). `bprm` is set on success (sched_process_exec). */
static __noinline int emit_execve(struct task_struct *task, __u16 type, long res,
                                  struct linux_binprm *bprm, unsigned long argv_filename) {
	/* argv_filename: the failed call's argv (execveat) or filename (execve, argv read from
	 * the registers of the current task). */
	unsigned long argv = 0, filename = 0;
	if(!bprm) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
		if(type == PPME_SYSCALL_EXECVE_19_X) {
			filename = argv_filename;
			argv = BPF_CORE_READ(regs, si);
		} else {
			argv = argv_filename;
		}
	}
	struct ev ev;
	__u32 np = type == PPME_SYSCALL_EXECVE_19_X ? 31 : 30;
	if(ev_start(&ev, type, np)) {
		return 0;
	}
	push_u64(&ev, (__u64)res);
	push_task_common(&ev, task, bprm != NULL, argv);
	if(bprm) {
		unsigned long s = BPF_CORE_READ(task, mm, env_start);
		unsigned long e = BPF_CORE_READ(task, mm, env_end);
		push_user_bytes(&ev, s, e > s ? e - s : 0, MAX_ARGS - 1);
	} else {
		push_empty(&ev); /* env of a failed execve */
	}
	push_u32(&ev, task_tty(task));
	push_u64(&ev, pid_nr_own(task_pid_of(task, PIDTYPE_PGID)));
	push_u32(&ev, BPF_CORE_READ(task, loginuid.val));
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	__u32 flags = 0;
	if(exe) {
		if(exe_from_memfd(exe)) {
			flags |= PPM_EXE_FROM_MEMFD;
		}
		if(exe_writable(task, BPF_CORE_READ(exe, f_inode))) {
			flags |= PPM_EXE_WRITABLE;
		}
		flags |= exe_overlay_layer(exe);
	}
	push_u32(&ev, flags);
	push_u64(&ev, task_cap(task, 0));
	push_u64(&ev, task_cap(task, 1));
	push_u64(&ev, task_cap(task, 2));
	struct inode *ino = BPF_CORE_READ(exe, f_inode);
	push_u64(&ev, exe ? BPF_CORE_READ(ino, i_ino) : 0);
	__u64 ct = 0, mt = 0;
	if(exe) {
		ct = BPF_CORE_READ(ino, i_ctime_sec) * 1000000000ull + BPF_CORE_READ(ino, i_ctime_nsec);
		mt = BPF_CORE_READ(ino, i_mtime_sec) * 1000000000ull + BPF_CORE_READ(ino, i_mtime_nsec);
	}
	push_u64(&ev, ct);
	push_u64(&ev, mt);
	push_u32(&ev, BPF_CORE_READ(task, cred, euid.val));
	push_file_path(&ev, bprm ? exe : NULL);
	push_u64(&ev, pid_nr_global(task_pid_of(task, PIDTYPE_PGID)));
	push_u32(&ev, BPF_CORE_READ(task, cred, egid.val));
	if(np == 31) {
		if(bprm) {
			push_kernel_str(&ev, BPF_CORE_READ(bprm, filename), MAX_PATH - 1);
		} else {
			push_user_str(&ev, filename);
		}
	}
	return ev_submit(&ev, bpf_get_current_pid_tgid() & 0xffffffff);
}

static __noinline int emit_clone(struct task_struct *task, __u16 type, long res,
                                 unsigned long raw_flags) {
	struct ev ev;
	if(ev_start(&ev, type, 21)) {
		return 0;
	}
	push_u64(&ev, (__u64)res);
	push_task_common(&ev, task, 1, 0);
	__u32 flags = clone_flags_to_scap(raw_flags);
	struct pid *pid = task_pid_of(task, PIDTYPE_PID);
	unsigned int level = BPF_CORE_READ(pid, level);
	if(level != 0) {
		flags |= PPM_CL_CHILD_IN_PIDNS;
	}
	push_u32(&ev, flags);
	push_u32(&ev, BPF_CORE_READ(task, cred, euid.val));
	push_u32(&ev, BPF_CORE_READ(task, cred, egid.val));
	push_u64(&ev, pid_nr_own(pid));
	push_u64(&ev, pid_nr_own(task_pid_of(task, PIDTYPE_TGID)));
	__u64 ns_start = 0;
	if(res == 0 && level != 0) {
		struct pid_namespace *ns = pid_upid(pid, level).ns;
		ns_start = BPF_CORE_READ(ns, child_reaper, start_time);
	}
	push_u64(&ev, ns_start);
	return ev_submit(&ev, BPF_CORE_READ(task, pid));
}

/* ------------------------------------------------------------------------------------------ */
/* Sockets                                                                                     */

static __always_inline struct sock *fd_to_sock(struct task_struct *task, long fd) {
	struct file *f = fd_to_file(task, fd);
	if(!f) {
		return NULL;
	}
	struct socket *s = BPF_CORE_READ(f, private_data);
	if(!s) {
		return NULL;
	}
	return BPF_CORE_READ(s, sk);
}

/* SOCKTUPLE of `sk`; `local_first` puts the local end first (connect, send/recv) or the peer
 * first (accept). */
/* `uaddr` (a user sockaddr: sendto/recvfrom's address argument, sendmsg/recvmsg's msg_name)
 * names the remote end when the socket has no remote port, as libs 0.25.4 does for unconnected
 * UDP sockets (auxmap__store_socktuple_param). */
static __noinline void push_socktuple(struct ev *ev, struct sock *sk, int local_first,
                                      unsigned long uaddr) {
	if(!sk) {
		push_empty(ev);
		return;
	}
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u8 *p = &ev->buf[OFF(ev->pos)];
	if(family == AF_INET) {
		__u32 laddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 raddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		__u16 rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if(rport == 0 && uaddr) {
			struct sockaddr_in sin = {};
			bpf_probe_read_user(&sin, sizeof(sin), (void *)uaddr);
			raddr = sin.sin_addr.s_addr;
			rport = __builtin_bswap16(sin.sin_port);
		}
		p[0] = AF_INET;
		*(__u32 *)&p[1] = local_first ? laddr : raddr;
		*(__u16 *)&p[5] = local_first ? lport : rport;
		*(__u32 *)&p[7] = local_first ? raddr : laddr;
		*(__u16 *)&p[11] = local_first ? rport : lport;
		ev_len(ev, 13);
	} else if(family == AF_INET6) {
		struct in6_addr la = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
		struct in6_addr ra = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
		__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		__u16 rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if(rport == 0 && uaddr) {
			struct sockaddr_in6 sin6 = {};
			bpf_probe_read_user(&sin6, sizeof(sin6), (void *)uaddr);
			ra = sin6.sin6_addr;
			rport = __builtin_bswap16(sin6.sin6_port);
		}
		p[0] = AF_INET6;
		__builtin_memcpy(&p[1], local_first ? &la : &ra, 16);
		*(__u16 *)&p[17] = local_first ? lport : rport;
		__builtin_memcpy(&p[19], local_first ? &ra : &la, 16);
		*(__u16 *)&p[35] = local_first ? rport : lport;
		ev_len(ev, 37);
	} else if(family == AF_UNIX) {
		/* libs 0.25.4's order: outbound (connect, send) the peer's pointer, then ours, and
		 * the peer's path, or the destination's when unconnected (sendto/sendmsg to a
		 * datagram socket); inbound (accept, recv) ours, then the peer's, and our path. An
		 * abstract name drops its leading NUL; an unreadable path is no bytes at all. */
		struct unix_sock *us = (struct unix_sock *)sk;
		struct sock *peer = BPF_CORE_READ(us, peer);
		p[0] = AF_UNIX;
		*(__u64 *)&p[1] = local_first ? (__u64)peer : (__u64)sk;
		*(__u64 *)&p[9] = local_first ? (__u64)sk : (__u64)peer;
		const char *path = NULL;
		if(local_first && !peer && uaddr) {
			/* the destination's sockaddr_un, staged past the parameter's bytes */
			__u8 *stage = &ev->buf[OFF(ev->pos + 256)];
			if(bpf_probe_read_user(stage, 110, (void *)uaddr) == 0) {
				stage[110] = 0;
				path = (const char *)&stage[2];
			}
		} else {
			struct unix_address *addr = BPF_CORE_READ(local_first ? (struct unix_sock *)peer : us, addr);
			if(addr) {
				/* name[0].sun_path by offset: aya rejects CO-RE accesses into flexible
				 * arrays. */
				path = (char *)addr + bpf_core_field_offset(struct unix_address, name) +
				       bpf_core_field_offset(struct sockaddr_un, sun_path);
			}
		}
		long n = 0;
		if(path) {
			char first = 0;
			bpf_probe_read_kernel(&first, 1, path);
			n = bpf_probe_read_kernel_str(&p[17], 108, first ? path : path + 1);
		}
		ev_len(ev, (__u16)(17 + (n > 0 ? n : 0)));
	} else {
		p[0] = (__u8)family;
		ev_len(ev, 1);
	}
}

/* SOCKADDR read from user memory. */
static __noinline void push_user_sockaddr(struct ev *ev, unsigned long uaddr, unsigned long len) {
	__u16 family = 0;
	if(!uaddr || len < 2 || bpf_probe_read_user(&family, 2, (void *)uaddr)) {
		push_empty(ev);
		return;
	}
	__u8 *p = &ev->buf[OFF(ev->pos)];
	p[0] = (__u8)family;
	if(family == AF_INET) {
		struct sockaddr_in sin = {};
		bpf_probe_read_user(&sin, sizeof(sin), (void *)uaddr);
		*(__u32 *)&p[1] = sin.sin_addr.s_addr;
		*(__u16 *)&p[5] = __builtin_bswap16(sin.sin_port);
		ev_len(ev, 7);
	} else if(family == AF_INET6) {
		struct sockaddr_in6 sin6 = {};
		bpf_probe_read_user(&sin6, sizeof(sin6), (void *)uaddr);
		__builtin_memcpy(&p[1], &sin6.sin6_addr, 16);
		*(__u16 *)&p[17] = __builtin_bswap16(sin6.sin6_port);
		ev_len(ev, 19);
	} else if(family == AF_UNIX) {
		/* sun_path from the user's sockaddr_un (at most `len` bytes of it, as libs reads
		 * them); an abstract name drops its leading NUL, an unreadable one is no bytes. */
		__u8 *stage = &ev->buf[OFF(ev->pos + 256)];
		long n = 0;
		unsigned long l = len < 110 ? len : 110;
		if(l > 2 && bpf_probe_read_user(stage, l & 127, (void *)uaddr) == 0) {
			stage[l & 127] = 0;
			n = bpf_probe_read_kernel_str(&p[1], 108, &stage[stage[2] ? 2 : 3]);
		}
		ev_len(ev, (__u16)(1 + (n > 0 ? n : 0)));
	} else {
		ev_len(ev, 1);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Exit dispatch                                                                               */

static __noinline int emit_from_table(struct pt_regs *regs, long ret, __u32 nr) {
	const volatile struct sc_spec *spec = &sc_table[nr & (FRS_SYSCALL_TABLE_SIZE - 1)];
	__u16 type = spec->evt;
	__u32 np = spec->nparams;
	if(type == 0 || np == 0 || np > MAX_TABLE_PARAMS) {
		return 0;
	}
	struct ev ev;
	if(ev_start(&ev, type, np)) {
		return 0;
	}
	struct task_struct *task = bpf_get_current_task_btf();
	/* The returned fd's file, looked up once for the flags/dev/ino parameters. */
	struct file_id fid = {};
	if(ret >= 0 && (nr == NR_open || nr == NR_openat || nr == NR_creat)) {
		struct file *file = fd_to_file(task, ret);
		if(file) {
			file_identity(&ev.buf[FILE_STAGE], file, &fid);
		}
	}
	__u32 f_created = fid.created, f_dev = fid.dev;
	__u64 f_ino = fid.ino;
	for(int i = 0; i < MAX_TABLE_PARAMS; i++) {
		if(i >= np) {
			break;
		}
		__u8 kind = spec->p[i].kind;
		__u8 a = spec->p[i].arg;
		__u8 size = spec->p[i].size;
		__u8 aux = spec->p[i].aux;
		unsigned long v = sc_arg(regs, a);
		switch(kind) {
		case PK_RES:
			push_u64(&ev, (__u64)ret);
			break;
		case PK_RES_INT:
			push_u32(&ev, (__u32)ret);
			break;
		case PK_ARG:
			if(size == 1)
				push_u8(&ev, (__u8)v);
			else if(size == 2)
				push_u16(&ev, (__u16)v);
			else if(size == 4)
				push_u32(&ev, (__u32)v);
			else
				push_u64(&ev, (__u64)v);
			break;
		case PK_ARG_FD:
			push_u64(&ev, (__u64)(__s64)(int)v);
			break;
		case PK_ARG_STR:
			push_user_str(&ev, v);
			break;
		case PK_OPEN_FLAGS: {
			__u32 f = open_flags_to_scap((__u32)v);
			if(f_created) {
				f |= PPM_O_F_CREATED;
			}
			push_u32(&ev, f);
			break;
		}
		case PK_OPEN_MODE: {
			unsigned long flags = sc_arg(regs, aux);
			push_u32(&ev, (flags & (O_CREAT | O_TMPFILE)) ? (__u32)(v & 07777) : 0);
			break;
		}
		case PK_MODE:
			push_u32(&ev, (__u32)(v & 07777));
			break;
		case PK_CLONE_FLAGS:
			push_u32(&ev, clone_flags_to_scap(v));
			break;
		case PK_AT_FLAGS:
			push_u32(&ev, (__u32)(v & (0x200 | 0x400 | 0x1000)));
			break;
		case PK_CLOEXEC:
			push_u32(&ev, (v & O_CLOEXEC) ? PPM_O_CLOEXEC : 0);
			break;
		case PK_FILE_FLAGS: {
			__u32 f = 0;
			if((long)v >= 0) {
				if(v & O_CLOEXEC)
					f |= PPM_O_CLOEXEC;
				if(v & O_NONBLOCK)
					f |= PPM_O_NONBLOCK;
				if(v & O_DIRECT)
					f |= PPM_O_DIRECT;
			}
			if(size == 1)
				push_u8(&ev, (__u8)f); /* as the libs helper truncates it */
			else if(size == 2)
				push_u16(&ev, (__u16)f);
			else
				push_u32(&ev, f);
			break;
		}
		case PK_ZERO:
			if(size == 1)
				push_u8(&ev, 0);
			else if(size == 2)
				push_u16(&ev, 0);
			else if(size == 4)
				push_u32(&ev, 0);
			else
				push_u64(&ev, 0);
			break;
		case PK_MEMFD_FLAGS:
			push_u32(&ev, (__u32)(((v & 1) ? 1 : 0) | ((v & 2) ? 2 : 0) | ((v & 4) ? 4 : 0)));
			break;
		case PK_RES_DEV:
			push_u32(&ev, f_dev);
			break;
		case PK_RES_INO:
			push_u64(&ev, f_ino);
			break;
		case PK_CREAT_FLAGS:
			push_u16(&ev, f_created ? PPM_O_F_CREATED : 0);
			break;
		case PK_SOCK_FAMILY:
			push_u32(&ev, socket_family_to_scap((__u8)v));
			break;
		case PK_MOUNT_FLAGS: {
			__u32 f = (__u32)v;
			if((f & 0xffff0000) == 0xc0ed0000) {
				f &= 0xffff;
			}
			push_u32(&ev, f);
			break;
		}
		case PK_CAP:
			push_u64(&ev, task_cap(task, aux));
			break;
		case PK_FCNTL_CMD:
			push_u8(&ev, fcntl_cmd_to_scap(v));
			break;
		case PK_EPOLL_FLAGS:
			push_u32(&ev, (v & O_CLOEXEC) ? 1 : 0);
			break;
		case PK_PIDFD_FLAGS:
			push_u32(&ev, (v & O_NONBLOCK) ? 1 : 0);
			break;
		default:
			push_empty(&ev);
			break;
		}
	}
	return ev_submit(&ev, bpf_get_current_pid_tgid() & 0xffffffff);
}

static __noinline int emit_socket_event(struct pt_regs *regs, long ret, __u32 nr) {
	struct task_struct *task = bpf_get_current_task_btf();
	struct ev ev;
	unsigned long a0 = sc_arg(regs, 0);
	unsigned long a1 = sc_arg(regs, 1);
	unsigned long a2 = sc_arg(regs, 2);
	long fd = (long)(int)a0;
	switch(nr) {
	case NR_connect:
		if(ev_start(&ev, PPME_SOCKET_CONNECT_X, 4))
			return 0;
		push_u64(&ev, (__u64)ret);
		if(ret == 0 || ret == -115 /* EINPROGRESS */) {
			push_socktuple(&ev, fd_to_sock(task, fd), 1, 0);
		} else {
			push_empty(&ev);
		}
		push_u64(&ev, (__u64)fd);
		push_user_sockaddr(&ev, a1, a2);
		break;
	case NR_bind:
		if(ev_start(&ev, PPME_SOCKET_BIND_X, 3))
			return 0;
		push_u64(&ev, (__u64)ret);
		push_user_sockaddr(&ev, a1, a2);
		push_u64(&ev, (__u64)fd);
		break;
	case NR_accept:
	case NR_accept4: {
		int is4 = nr == NR_accept4;
		if(ev_start(&ev, is4 ? PPME_SOCKET_ACCEPT4_6_X : PPME_SOCKET_ACCEPT_5_X, is4 ? 6 : 5))
			return 0;
		push_u64(&ev, (__u64)ret);
		if(ret >= 0) {
			push_socktuple(&ev, fd_to_sock(task, ret), 0, 0);
		} else {
			push_empty(&ev);
		}
		struct sock *lsk = fd_to_sock(task, fd);
		__u32 qlen = 0, qmax = 0;
		if(lsk) {
			qlen = BPF_CORE_READ(lsk, sk_ack_backlog);
			qmax = BPF_CORE_READ(lsk, sk_max_ack_backlog);
		}
		push_u8(&ev, qmax ? (__u8)(qlen * 100 / qmax) : 0);
		push_u32(&ev, qlen);
		push_u32(&ev, qmax);
		if(is4) {
			unsigned long f = sc_arg(regs, 3);
			push_u32(&ev, (f & O_CLOEXEC ? PPM_O_CLOEXEC : 0) | (f & O_NONBLOCK ? PPM_O_NONBLOCK : 0));
		}
		break;
	}
	case NR_sendto:
	case NR_recvfrom: {
		struct frs_settings *st = get_settings();
		__u32 snaplen = st ? st->snaplen : 80;
		if(nr == NR_sendto) {
			if(ev_start(&ev, PPME_SOCKET_SENDTO_X, 5))
				return 0;
			push_u64(&ev, (__u64)ret);
			/* as libs: up to res bytes, or up to `size` when the call failed */
			push_user_bytes(&ev, a1, ret > 0 ? (__u64)ret : (__u64)(__u32)a2, snaplen);
			push_u64(&ev, (__u64)fd);
			push_u32(&ev, (__u32)a2);
			if(ret >= 0) {
				push_socktuple(&ev, fd_to_sock(task, fd), 1, sc_arg(regs, 4));
			} else {
				push_empty(&ev);
			}
		} else {
			if(ev_start(&ev, PPME_SOCKET_RECVFROM_X, 5))
				return 0;
			push_u64(&ev, (__u64)ret);
			push_user_bytes(&ev, ret > 0 ? a1 : 0, ret > 0 ? ret : 0, snaplen);
			push_socktuple(&ev, ret >= 0 ? fd_to_sock(task, fd) : NULL, 0, sc_arg(regs, 4));
			push_u64(&ev, (__u64)fd);
			push_u32(&ev, (__u32)a2);
		}
		break;
	}
	case NR_sendmsg: {
		/* libs 0.25.4 sendmsg_x: data and size from the iovecs, the tuple's remote end from
		 * msg_name when the socket has none; without a readable msghdr, empty data, size and
		 * tuple. */
		if(ev_start(&ev, PPME_SOCKET_SENDMSG_X, 5))
			return 0;
		push_u64(&ev, (__u64)ret);
		struct user_msghdr mh = {};
		if(bpf_probe_read_user(&mh, sizeof(mh), (void *)a1)) {
			push_empty(&ev);
			push_u64(&ev, (__u64)fd);
			push_empty(&ev);
			push_empty(&ev);
			break;
		}
		struct frs_settings *st = get_settings();
		__u32 snaplen = st ? st->snaplen : 80;
		if(ret > 0 && snaplen > ret) {
			snaplen = ret;
		}
		long n = stage_iovecs(&ev, (unsigned long)mh.msg_iov, mh.msg_iovlen);
		push_iovec_data(&ev, n, snaplen);
		push_u64(&ev, (__u64)fd);
		push_u32(&ev, iovecs_size(&ev, n));
		if(ret >= 0) {
			push_socktuple(&ev, fd_to_sock(task, fd), 1, (unsigned long)mh.msg_name);
		} else {
			push_empty(&ev);
		}
		break;
	}
	case NR_recvmsg: {
		/* libs 0.25.4 recvmsg_x: size = res, data from the iovecs (up to res), the inbound
		 * tuple with msg_name as the remote end when the socket has none, the control data. */
		if(ev_start(&ev, PPME_SOCKET_RECVMSG_X, 6))
			return 0;
		push_u64(&ev, (__u64)ret);
		if(ret < 0) {
			push_u32(&ev, 0);
			push_empty(&ev);
			push_empty(&ev);
			push_empty(&ev);
			push_u64(&ev, (__u64)fd);
			break;
		}
		push_u32(&ev, (__u32)ret);
		struct frs_settings *st = get_settings();
		__u32 snaplen = st ? st->snaplen : 80;
		if(snaplen > ret) {
			snaplen = ret;
		}
		struct user_msghdr mh = {};
		if(bpf_probe_read_user(&mh, sizeof(mh), (void *)a1)) {
			__builtin_memset(&mh, 0, sizeof(mh));
			push_empty(&ev);
		} else {
			push_iovec_data(&ev, stage_iovecs(&ev, (unsigned long)mh.msg_iov, mh.msg_iovlen),
			                snaplen);
		}
		push_socktuple(&ev, fd_to_sock(task, fd), 0, (unsigned long)mh.msg_name);
		if(mh.msg_control && mh.msg_controllen > 0 && mh.msg_controllen <= 0xffff) {
			push_user_bytes_exact(&ev, (unsigned long)mh.msg_control, mh.msg_controllen);
		} else {
			push_empty(&ev);
		}
		push_u64(&ev, (__u64)fd);
		break;
	}
	case NR_socketpair: {
		if(ev_start(&ev, PPME_SOCKET_SOCKETPAIR_X, 8))
			return 0;
		int fds[2] = {-1, -1};
		if(ret == 0) {
			bpf_probe_read_user(fds, sizeof(fds), (void *)sc_arg(regs, 3));
		}
		push_u64(&ev, (__u64)ret);
		push_u64(&ev, (__u64)(__s64)fds[0]);
		push_u64(&ev, (__u64)(__s64)fds[1]);
		struct sock *s0 = ret == 0 ? fd_to_sock(task, fds[0]) : NULL;
		push_u64(&ev, (__u64)s0);
		push_u64(&ev, s0 ? (__u64)BPF_CORE_READ((struct unix_sock *)s0, peer) : 0);
		push_u32(&ev, socket_family_to_scap((__u8)a0));
		push_u32(&ev, (__u32)a1);
		push_u32(&ev, (__u32)a2);
		break;
	}
	default:
		return 0;
	}
	return ev_submit(&ev, bpf_get_current_pid_tgid() & 0xffffffff);
}

/* io_uring_setup_flags_to_scap as the modern probe builds it: kernel bit 0 is both
 * IORING_SETUP_IOPOLL and IORING_SQ_NEED_WAKEUP (PPM 1 and 4); bits 1..6 are PPM SQPOLL (2),
 * SQ_AFF (8), CQSIZE (16), CLAMP (32), ATTACH_WQ (64), R_DISABLED (128). */
static __always_inline __u32 io_uring_setup_flags_to_scap(__u32 f) {
	__u32 r = 0;
	if(f & 1)
		r |= 1 | 4;
	if(f & 2)
		r |= 2;
	r |= (f & 0x7c) << 1;
	return r;
}

/* io_uring_setup_feats_to_scap as the modern probe builds it: PPM bits equal the kernel's,
 * except IORING_FEAT_ENTER_EXT_ARG (bit 8), which its definitions do not name, so it is
 * never set; bits above RSRC_TAGS (10) are dropped. */
static __always_inline __u32 io_uring_setup_feats_to_scap(__u32 f) {
	return f & 0x6ff;
}

/* sockopt_level_to_scap: SOL_SOCKET and SOL_TCP, else PPM_SOCKOPT_LEVEL_UNKNOWN. */
#define SOL_SOCKET 1
#define SOL_TCP 6
static __always_inline __u8 sockopt_level_to_scap(int level) {
	return level == SOL_SOCKET ? 1 : level == SOL_TCP ? 2 : 0;
}

/* sockopt_optname_to_scap for SOL_SOCKET (x86-64 numbers): PPM_SOCKOPT_SO_* equal the Linux
 * numbers 1..50; RCVTIMEO_NEW/SNDTIMEO_NEW (66/67) fold into RCVTIMEO/SNDTIMEO, PEERGROUPS
 * (59), MEMINFO (55), COOKIE (57) are 51, 52, 53; anything else PPM_SOCKOPT_UNKNOWN. */
static __always_inline __u8 sockopt_optname_to_scap(int optname) {
	if(optname >= 1 && optname <= 50)
		return (__u8)optname;
	switch(optname) {
	case 66:
		return 20;
	case 67:
		return 21;
	case 59:
		return 51;
	case 55:
		return 52;
	case 57:
		return 53;
	default:
		return 0;
	}
}

/* The getsockopt `val` parameter as auxmap__store_sockopt_param writes it: one index byte
 * (PPM_SOCKOPT_IDX_*) then SO_ERROR as a negative errno (s64), SO_{RCV,SND}TIMEO as ns (u64),
 * SO_COOKIE (u64), the int options (u32), else (other levels, other options) `optlen` raw
 * bytes (the index byte alone when unreadable). */
static __noinline void push_sockopt_val(struct ev *ev, int level, int optname, __u16 optlen,
                                        unsigned long optval) {
	__u8 *p = &ev->buf[OFF(ev->pos)];
	__u8 idx = 0;
	__u16 n = 0;
	if(level == SOL_SOCKET) {
		switch(optname) {
		case 4: { /* SO_ERROR */
			int v = 0;
			bpf_probe_read_user(&v, sizeof(v), (void *)optval);
			idx = 1;
			*(__s64 *)&p[1] = -(__s64)v;
			n = 8;
			break;
		}
		case 20:
		case 21:
		case 66:
		case 67: { /* SO_{RCV,SND}TIMEO_{OLD,NEW} */
			long tv[2] = {0, 0};
			bpf_probe_read_user(tv, sizeof(tv), (void *)optval);
			idx = 4;
			*(__u64 *)&p[1] = (__u64)tv[0] * 1000000000ULL + (__u64)tv[1] * 1000ULL;
			n = 8;
			break;
		}
		case 57: { /* SO_COOKIE */
			__u64 v = 0;
			bpf_probe_read_user(&v, sizeof(v), (void *)optval);
			idx = 3;
			*(__u64 *)&p[1] = v;
			n = 8;
			break;
		}
		case 13: /* SO_LINGER */
		case 17: /* SO_PEERCRED */
		case 26: /* SO_ATTACH_FILTER */
		case 28: /* SO_PEERNAME */
		case 50: /* SO_ATTACH_BPF */
			idx = 0xff;
			break;
		default:
			if(optname >= 1 && optname <= 49 && optname != 20 && optname != 21) {
				__u32 v = 0;
				bpf_probe_read_user(&v, sizeof(v), (void *)optval);
				idx = 2;
				*(__u32 *)&p[1] = v;
				n = 4;
			} else {
				idx = 0xff;
			}
		}
	} else {
		idx = 0xff;
	}
	if(idx == 0xff) {
		/* PPM_SOCKOPT_IDX_UNKNOWN + push__bytebuf(optval, optlen). */
		idx = 0;
		__u32 len = optlen;
		if(len > MAX_ARGS - 1) {
			len = MAX_ARGS - 1;
		}
		if(len && bpf_probe_read_user(&ev->buf[OFF(ev->pos + 1)], len & (MAX_ARGS - 1),
		                              (void *)optval) == 0) {
			n = (__u16)len;
		}
	}
	p[0] = idx;
	ev_len(ev, 1 + n);
}

static __noinline int emit_misc_event(struct pt_regs *regs, long ret, __u32 nr) {
	struct task_struct *task = bpf_get_current_task_btf();
	struct ev ev;
	unsigned long a0 = sc_arg(regs, 0);
	unsigned long a1 = sc_arg(regs, 1);
	switch(nr) {
	case NR_openat2: {
		if(ev_start(&ev, PPME_SYSCALL_OPENAT2_X, 8))
			return 0;
		struct open_how how = {};
		bpf_probe_read_user(&how, sizeof(how), (void *)sc_arg(regs, 2));
		push_u64(&ev, (__u64)ret);
		push_u64(&ev, (__u64)(__s64)(int)a0);
		push_user_str(&ev, a1);
		__u32 f = open_flags_to_scap((__u32)how.flags);
		struct file *file = ret >= 0 ? fd_to_file(task, ret) : NULL;
		if(file && (BPF_CORE_READ(file, f_mode) & FMODE_CREATED_BIT)) {
			f |= PPM_O_F_CREATED;
		}
		push_u32(&ev, f);
		push_u32(&ev, (how.flags & (O_CREAT | O_TMPFILE)) ? (__u32)(how.mode & 07777) : 0);
		__u32 r = 0;
		if(how.resolve & 0x01) r |= 1 << 0; /* RESOLVE_NO_XDEV -> PPM_RESOLVE_NO_XDEV */
		if(how.resolve & 0x02) r |= 1 << 1; /* RESOLVE_NO_MAGICLINKS */
		if(how.resolve & 0x04) r |= 1 << 2; /* RESOLVE_NO_SYMLINKS */
		if(how.resolve & 0x08) r |= 1 << 3; /* RESOLVE_BENEATH */
		if(how.resolve & 0x10) r |= 1 << 4; /* RESOLVE_IN_ROOT */
		if(how.resolve & 0x20) r |= 1 << 5; /* RESOLVE_CACHED */
		push_u32(&ev, r);
		push_u32(&ev, file ? encode_dev(BPF_CORE_READ(file, f_inode, i_sb, s_dev)) : 0);
		push_u64(&ev, file ? BPF_CORE_READ(file, f_inode, i_ino) : 0);
		break;
	}
	case NR_pipe:
	case NR_pipe2: {
		int is2 = nr == NR_pipe2;
		if(ev_start(&ev, is2 ? PPME_SYSCALL_PIPE2_X : PPME_SYSCALL_PIPE_X, is2 ? 5 : 4))
			return 0;
		int fds[2] = {-1, -1};
		if(ret == 0) {
			bpf_probe_read_user(fds, sizeof(fds), (void *)a0);
		}
		push_u64(&ev, (__u64)ret);
		push_u64(&ev, (__u64)(__s64)fds[0]);
		push_u64(&ev, (__u64)(__s64)fds[1]);
		struct file *file = ret == 0 ? fd_to_file(task, fds[0]) : NULL;
		push_u64(&ev, file ? BPF_CORE_READ(file, f_inode, i_ino) : 0);
		if(is2) {
			__u32 f = 0;
			if((long)(int)a1 >= 0) {
				if(a1 & O_CLOEXEC)
					f |= PPM_O_CLOEXEC;
				if(a1 & O_DIRECT)
					f |= PPM_O_DIRECT;
				if(a1 & O_NONBLOCK)
					f |= PPM_O_NONBLOCK;
			}
			push_u32(&ev, f);
		}
		break;
	}
	case NR_ptrace: {
		if(ev_start(&ev, PPME_SYSCALL_PTRACE_X, 5))
			return 0;
		push_u64(&ev, (__u64)ret);
		/* addr and data: PT_DYN with index 0 (PPM_PTRACE_IDX_UINT64). */
		__u8 *p = &ev.buf[OFF(ev.pos)];
		p[0] = 0;
		*(__u64 *)&p[1] = sc_arg(regs, 2);
		ev_len(&ev, 9);
		p = &ev.buf[OFF(ev.pos)];
		p[0] = 0;
		*(__u64 *)&p[1] = sc_arg(regs, 3);
		ev_len(&ev, 9);
		__u16 req = ptrace_req_to_scap(a0);
		push_u16(&ev, req);
		push_u64(&ev, (__u64)(__s64)(int)a1);
		break;
	}
	case NR_prctl: {
		if(ev_start(&ev, PPME_SYSCALL_PRCTL_X, 4))
			return 0;
		push_u64(&ev, (__u64)ret);
		push_u32(&ev, (__u32)a0);
		if(a0 == 15 /* PR_SET_NAME */ || a0 == 16 /* PR_GET_NAME */) {
			push_user_str(&ev, a1);
			push_u64(&ev, 0);
		} else if(a0 == 37 /* PR_GET_CHILD_SUBREAPER */) {
			int v = 0;
			bpf_probe_read_user(&v, sizeof(v), (void *)a1);
			push_empty(&ev);
			push_u64(&ev, (__u64)(__s64)v);
		} else {
			push_empty(&ev);
			push_u64(&ev, (__u64)a1);
		}
		break;
	}
	case NR_getsockopt: {
		/* libs 0.25.4 getsockopt_x: res, fd, level, optname (scap codes), val (PT_DYN: index
		 * byte + value as auxmap__store_sockopt_param encodes it), optlen (read at exit). */
		if(ev_start(&ev, PPME_SOCKET_GETSOCKOPT_X, 6))
			return 0;
		int level = (int)a1;
		int optname = (int)sc_arg(regs, 2);
		unsigned long optval = sc_arg(regs, 3);
		int optlen = 0;
		bpf_probe_read_user(&optlen, sizeof(optlen), (void *)sc_arg(regs, 4));
		push_u64(&ev, (__u64)ret);
		push_u64(&ev, (__u64)(__s64)(int)a0);
		push_u8(&ev, sockopt_level_to_scap(level));
		push_u8(&ev, level == SOL_SOCKET ? sockopt_optname_to_scap(optname) : 0);
		push_sockopt_val(&ev, level, optname, (__u16)optlen, optval);
		push_u32(&ev, (__u32)optlen);
		break;
	}
	case NR_io_uring_setup: {
		/* libs 0.25.4 io_uring_setup_x: res, entries, then sq_entries, cq_entries, flags,
		 * sq_thread_cpu, sq_thread_idle, features from the `struct io_uring_params` the
		 * kernel filled (read whole, as libs does: all zero when unreadable). */
		if(ev_start(&ev, PPME_SYSCALL_IO_URING_SETUP_X, 8))
			return 0;
		__u32 pr[6] = {};
		__u8 *stage = &ev.buf[OFF(ev.pos + 64)];
		if(bpf_probe_read_user(stage, sizeof(struct io_uring_params), (void *)a1) == 0) {
			__builtin_memcpy(pr, stage, sizeof(pr));
		}
		push_u64(&ev, (__u64)ret);
		push_u32(&ev, (__u32)a0);
		push_u32(&ev, pr[0]);
		push_u32(&ev, pr[1]);
		push_u32(&ev, io_uring_setup_flags_to_scap(pr[2]));
		push_u32(&ev, pr[3]);
		push_u32(&ev, pr[4]);
		push_u32(&ev, io_uring_setup_feats_to_scap(pr[5]));
		break;
	}
	case NR_io_uring_enter: {
		/* res, fd, to_submit, min_complete, flags (the four PPM_IORING_ENTER_* bits), sig
		 * (the low 32 bits of the pointer, as libs stores it). */
		if(ev_start(&ev, PPME_SYSCALL_IO_URING_ENTER_X, 6))
			return 0;
		push_u64(&ev, (__u64)ret);
		push_u64(&ev, (__u64)(__s64)(int)a0);
		push_u32(&ev, (__u32)a1);
		push_u32(&ev, (__u32)sc_arg(regs, 2));
		push_u32(&ev, (__u32)sc_arg(regs, 3) & 0xf);
		push_u32(&ev, (__u32)sc_arg(regs, 4));
		break;
	}
	case NR_io_uring_register: {
		/* res, fd, opcode (1:1), arg (the user pointer), nr_args. */
		if(ev_start(&ev, PPME_SYSCALL_IO_URING_REGISTER_X, 5))
			return 0;
		push_u64(&ev, (__u64)ret);
		push_u64(&ev, (__u64)(__s64)(int)a0);
		push_u16(&ev, (__u16)a1);
		push_u64(&ev, sc_arg(regs, 2));
		push_u32(&ev, (__u32)sc_arg(regs, 3));
		break;
	}
	case NR_init_module: {
		struct frs_settings *st = get_settings();
		if(ev_start(&ev, PPME_SYSCALL_INIT_MODULE_X, 4))
			return 0;
		push_u64(&ev, (__u64)ret);
		push_user_bytes(&ev, a0, a1, st ? st->snaplen : 80);
		push_u64(&ev, (__u64)a1);
		push_user_str(&ev, sc_arg(regs, 2));
		break;
	}
	default:
		return 0;
	}
	return ev_submit(&ev, bpf_get_current_pid_tgid() & 0xffffffff);
}

/* close exit (PPME_SYSCALL_CLOSE_X: res, fd), the most frequent event: fixed size, so it is
 * written in place in the ring buffer (no scratch area, no copy). */
#define CLOSE_X_SIZE (FRS_EVT_HDR_SIZE + 2 * 2 + 8 + 8)
static __always_inline int emit_close_exit(const struct frs_settings *st, long ret,
                                           unsigned long fd) {
	struct frs_counters *c = get_counters();
	if(!c) {
		return 0;
	}
	struct ring_slot slot;
	if(ring_reserve(st, &slot)) {
		c->n_drops_buffer++;
		c->n_drops_buffer_close_exit++;
		return 0;
	}
	__u8 *r = slot.at;
	*(__u16 *)&r[FRS_EVT_HDR_SIZE] = 8;
	*(__u16 *)&r[FRS_EVT_HDR_SIZE + 2] = 8;
	*(__u64 *)&r[FRS_EVT_HDR_SIZE + 4] = (__u64)ret;
	*(__u64 *)&r[FRS_EVT_HDR_SIZE + 12] = (__u64)(__s64)(int)fd;
	rec_header(r, st, CLOSE_X_SIZE, PPME_SYSCALL_CLOSE_X, 2);
	ring_commit(&slot, CLOSE_X_SIZE);
	c->n_evts++;
	return 0;
}

/* Scratch area of the current CPU. */
static __always_inline __u8 *scratch_buf(void) {
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch_area *s = bpf_map_lookup_elem(&scratch, &cpu);
	if(!s) {
		struct frs_counters *c = get_counters();
		if(c) {
			c->n_drops_scratch_map++;
		}
		return NULL;
	}
	return s->data;
}

/* A user string at `b + off` (`off` a constant; NUL included), its length or 0 when
 * unreadable or NULL. `b` may be a ring slot: the string fits in the slot's element. */
static __always_inline __u32 read_user_str_at(__u8 *b, __u32 off, unsigned long ptr) {
	long n = 0;
	if(ptr) {
		n = bpf_probe_read_user_str(&b[off], MAX_PATH, (void *)ptr);
	}
	return n > 0 ? (__u32)n & (2 * MAX_PATH - 1) : 0;
}

/* The current CPU's ring slot for a record built in place, or NULL after counting the drop
 * under the category of `type`. */
static __always_inline __u8 *ring_begin(const struct frs_settings *st, struct frs_counters *c,
                                        struct ring_slot *slot, __u16 type) {
	if(ring_reserve(st, slot)) {
		c->n_drops_buffer++;
		counters_category_drop(c, type);
		return NULL;
	}
	return slot->at;
}

/* Header and publication of a `len`-byte record built in place by ring_begin's caller. */
static __always_inline int ring_end(const struct frs_settings *st, struct frs_counters *c,
                                    struct ring_slot *slot, __u32 len, __u16 type,
                                    __u32 nparams) {
	rec_header(slot->at, st, len, type, nparams);
	ring_commit(slot, len);
	c->n_evts++;
	return 0;
}

/* openat exit (PPME_SYSCALL_OPENAT_2_X), the most frequent variable-size event, written in
 * place in the ring at fixed offsets (only the parameters after the name move): res, dirfd,
 * name, flags (| PPM_O_F_CREATED), mode, dev, ino. */
#define OPENAT_X_VALUES (FRS_EVT_HDR_SIZE + 7 * 2)
static __always_inline int emit_openat_exit(const struct frs_settings *st, struct pt_regs *regs,
                                            long ret) {
	struct frs_counters *c = get_counters();
	__u8 *stage = scratch_buf();
	if(!c || !stage) {
		return 0;
	}
	struct ring_slot slot;
	__u8 *b = ring_begin(st, c, &slot, PPME_SYSCALL_OPENAT_2_X);
	if(!b) {
		return 0;
	}
	unsigned long flags = regs->dx;
	struct file_id fid = {};
	if(ret >= 0) {
		struct file *file = fd_to_file(bpf_get_current_task_btf(), ret);
		if(file) {
			file_identity(&stage[FILE_STAGE], file, &fid);
		}
	}
	*(__u64 *)&b[OPENAT_X_VALUES] = (__u64)ret;
	*(__u64 *)&b[OPENAT_X_VALUES + 8] = (__u64)(__s64)(int)regs->di;
	__u32 n = read_user_str_at(b, OPENAT_X_VALUES + 16, regs->si);
	__u32 o = OPENAT_X_VALUES + 16 + n;
	*(__u32 *)&b[o] = open_flags_to_scap((__u32)flags) | (fid.created ? PPM_O_F_CREATED : 0);
	*(__u32 *)&b[o + 4] = (flags & (O_CREAT | O_TMPFILE)) ? (__u32)(regs->r10 & 07777) : 0;
	*(__u32 *)&b[o + 8] = fid.dev;
	*(__u64 *)&b[o + 12] = fid.ino;
	__u16 *lens = (__u16 *)&b[FRS_EVT_HDR_SIZE];
	lens[0] = 8;
	lens[1] = 8;
	lens[2] = (__u16)n;
	lens[3] = 4;
	lens[4] = 4;
	lens[5] = 4;
	lens[6] = 8;
	return ring_end(st, c, &slot, o + 20, PPME_SYSCALL_OPENAT_2_X, 7);
}

static __always_inline int is_interesting(__u32 nr) {
	__u8 *on = bpf_map_lookup_elem(&interesting, &nr);
	return on && *on;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(frs_sys_exit, struct pt_regs *regs, long ret) {
	__u32 nr = (__u32)regs->orig_ax;
	if(nr >= FRS_SYSCALL_TABLE_SIZE || !is_interesting(nr)) {
		return 0;
	}
	struct frs_settings *st = get_settings();
	if(!st) {
		return 0;
	}
	if(ret < 0 && (st->flags & FRS_FLAG_DROP_FAILED_EXIT)) {
		return 0;
	}
	if(nr == NR_close) {
		return emit_close_exit(st, ret, regs->di);
	}
	if(nr == NR_openat) {
		return emit_openat_exit(st, regs, ret);
	}
	struct task_struct *task = bpf_get_current_task_btf();
	__u16 clone_type = 0;
	unsigned long clone_flags = 0;
	switch(nr) {
	case NR_execve:
	case NR_execveat: {
		/* Successful execs are emitted from sched_process_exec. */
		if(ret == 0) {
			return 0;
		}
		int is_execve = nr == NR_execve;
		return emit_execve(task, is_execve ? PPME_SYSCALL_EXECVE_19_X : PPME_SYSCALL_EXECVEAT_X,
		                   ret, NULL, sc_arg(regs, is_execve ? 0 : 2));
	}
	case NR_clone:
		clone_type = PPME_SYSCALL_CLONE_20_X;
		clone_flags = sc_arg(regs, 0);
		break;
	case NR_clone3:
		clone_type = PPME_SYSCALL_CLONE3_X;
		bpf_probe_read_user(&clone_flags, sizeof(clone_flags), (void *)sc_arg(regs, 0));
		break;
	case NR_fork:
		clone_type = PPME_SYSCALL_FORK_20_X;
		break;
	case NR_vfork:
		clone_type = PPME_SYSCALL_VFORK_20_X;
		break;
	case NR_connect:
	case NR_bind:
	case NR_accept:
	case NR_accept4:
	case NR_sendto:
	case NR_recvfrom:
	case NR_sendmsg:
	case NR_recvmsg:
	case NR_socketpair:
		return emit_socket_event(regs, ret, nr);
	case NR_openat2:
	case NR_pipe:
	case NR_pipe2:
	case NR_ptrace:
	case NR_prctl:
	case NR_init_module:
	case NR_getsockopt:
	case NR_io_uring_setup:
	case NR_io_uring_enter:
	case NR_io_uring_register:
		return emit_misc_event(regs, ret, nr);
	default:
		return emit_from_table(regs, ret, nr);
	}
	if(ret == 0 && (st->flags & FRS_FLAG_FORK_FROM_TRACEPOINT)) {
		return 0;
	}
	return emit_clone(task, clone_type, ret, clone_flags);
}

/* TOCTOU enter events of 0.25.4 live drivers, from the per-syscall tracepoints (as the libs
 * probe does) so that no other syscall pays for a sys_enter program. */
static __noinline int emit_toctou_enter(__u32 nr, unsigned long a0, unsigned long a1,
                                        unsigned long a2, unsigned long a3) {
	if(!is_interesting(nr)) {
		return 0;
	}
	struct ev ev;
	switch(nr) {
	case NR_open:
		if(ev_start(&ev, PPME_SYSCALL_OPEN_E, 3))
			return 0;
		push_user_str(&ev, a0);
		push_u32(&ev, open_flags_to_scap((__u32)a1));
		push_u32(&ev, (a1 & (O_CREAT | O_TMPFILE)) ? (__u32)(a2 & 07777) : 0);
		break;
	case NR_openat:
		if(ev_start(&ev, PPME_SYSCALL_OPENAT_2_E, 4))
			return 0;
		push_u64(&ev, (__u64)(__s64)(int)a0);
		push_user_str(&ev, a1);
		push_u32(&ev, open_flags_to_scap((__u32)a2));
		push_u32(&ev, (a2 & (O_CREAT | O_TMPFILE)) ? (__u32)(a3 & 07777) : 0);
		break;
	case NR_openat2: {
		if(ev_start(&ev, PPME_SYSCALL_OPENAT2_E, 5))
			return 0;
		struct open_how how = {};
		bpf_probe_read_user(&how, sizeof(how), (void *)a2);
		push_u64(&ev, (__u64)(__s64)(int)a0);
		push_user_str(&ev, a1);
		push_u32(&ev, open_flags_to_scap((__u32)how.flags));
		push_u32(&ev, (how.flags & (O_CREAT | O_TMPFILE)) ? (__u32)(how.mode & 07777) : 0);
		push_u32(&ev, (__u32)(how.resolve & 0x3f));
		break;
	}
	case NR_creat:
		if(ev_start(&ev, PPME_SYSCALL_CREAT_E, 2))
			return 0;
		push_user_str(&ev, a0);
		push_u32(&ev, (__u32)(a1 & 07777));
		break;
	case NR_connect:
		if(ev_start(&ev, PPME_SOCKET_CONNECT_E, 2))
			return 0;
		push_u64(&ev, (__u64)(__s64)(int)a0);
		push_user_sockaddr(&ev, a1, a2);
		break;
	default:
		return 0;
	}
	return ev_submit(&ev, bpf_get_current_pid_tgid() & 0xffffffff);
}

/* Each tracepoint's record holds only its syscall's arguments: reading past them makes the
 * attach fail (EACCES), so every program reads exactly its own. */
#define ARG(ctx, i, n) ((i) < (n) ? (ctx)->args[(i) < (n) ? (i) : 0] : 0)
#define TOCTOU_PROG(name, n)                                                                       \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int frs_enter_##name(struct trace_event_raw_sys_enter *ctx) {                              \
		return emit_toctou_enter(NR_##name, ARG(ctx, 0, n), ARG(ctx, 1, n),                \
		                         ARG(ctx, 2, n), ARG(ctx, 3, n));                          \
	}

TOCTOU_PROG(open, 3)

/* openat, by far the most frequent of them, written at fixed offsets: dirfd, name, flags,
 * mode. */
#define OPENAT_E_VALUES (FRS_EVT_HDR_SIZE + 4 * 2)
SEC("tracepoint/syscalls/sys_enter_openat")
int frs_enter_openat(struct trace_event_raw_sys_enter *ctx) {
	if(!is_interesting(NR_openat)) {
		return 0;
	}
	struct frs_counters *c = get_counters();
	struct frs_settings *st = get_settings();
	if(!c || !st) {
		return 0;
	}
	struct ring_slot slot;
	__u8 *b = ring_begin(st, c, &slot, PPME_SYSCALL_OPENAT_2_E);
	if(!b) {
		return 0;
	}
	unsigned long flags = ctx->args[2];
	*(__u64 *)&b[OPENAT_E_VALUES] = (__u64)(__s64)(int)ctx->args[0];
	__u32 n = read_user_str_at(b, OPENAT_E_VALUES + 8, ctx->args[1]);
	__u32 o = OPENAT_E_VALUES + 8 + n;
	*(__u32 *)&b[o] = open_flags_to_scap((__u32)flags);
	*(__u32 *)&b[o + 4] = (flags & (O_CREAT | O_TMPFILE)) ? (__u32)(ctx->args[3] & 07777) : 0;
	__u16 *lens = (__u16 *)&b[FRS_EVT_HDR_SIZE];
	lens[0] = 8;
	lens[1] = (__u16)n;
	lens[2] = 4;
	lens[3] = 4;
	return ring_end(st, c, &slot, o + 8, PPME_SYSCALL_OPENAT_2_E, 4);
}

TOCTOU_PROG(openat2, 4)
TOCTOU_PROG(creat, 2)
TOCTOU_PROG(connect, 3)

SEC("tp_btf/sched_process_exec")
int BPF_PROG(frs_sched_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(p);
	__u32 nr = (__u32)BPF_CORE_READ(regs, orig_ax);
	if(nr != NR_execve && nr != NR_execveat) {
		return 0;
	}
	if(!is_interesting(nr)) {
		return 0;
	}
	return emit_execve(p, nr == NR_execve ? PPME_SYSCALL_EXECVE_19_X : PPME_SYSCALL_EXECVEAT_X,
	                   0, bprm, 0);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(frs_sched_fork, struct task_struct *parent, struct task_struct *child) {
	struct frs_settings *st = get_settings();
	if(!st || !(st->flags & FRS_FLAG_FORK_FROM_TRACEPOINT)) {
		return 0;
	}
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(parent);
	__u32 nr = (__u32)BPF_CORE_READ(regs, orig_ax);
	__u16 type;
	unsigned long flags = 0;
	switch(nr) {
	case NR_clone:
		type = PPME_SYSCALL_CLONE_20_X;
		flags = BPF_CORE_READ(regs, di);
		break;
	case NR_clone3:
		type = PPME_SYSCALL_CLONE3_X;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)BPF_CORE_READ(regs, di));
		break;
	case NR_fork:
		type = PPME_SYSCALL_FORK_20_X;
		break;
	case NR_vfork:
		type = PPME_SYSCALL_VFORK_20_X;
		break;
	default:
		return 0;
	}
	if(!is_interesting(nr)) {
		return 0;
	}
	return emit_clone(child, type, 0, flags);
}

#define PF_EXITING 0x00000004
#define MAX_GROUP_THREADS 30
#define MAX_REAPER_ANCESTORS 16

/* First thread of `t`'s group that is not exiting: its tid, 0 if none, -1 past the bound. */
static __always_inline __s64 alive_thread(struct task_struct *t) {
	struct signal_struct *sig = BPF_CORE_READ(t, signal);
	struct list_head *head = &sig->thread_head;
	struct list_head *node = BPF_CORE_READ(sig, thread_head.next);
	for(int i = 0; i < MAX_GROUP_THREADS; i++) {
		if(node == head) {
			return 0;
		}
		struct task_struct *th = container_of(node, struct task_struct, thread_node);
		if(!(BPF_CORE_READ(th, flags) & PF_EXITING)) {
			return BPF_CORE_READ(th, pid);
		}
		node = BPF_CORE_READ(th, thread_node.next);
	}
	return -1;
}

/* The kernel's find_new_reaper(): a live thread of the group, else the nearest
 * child-subreaper ancestor in the same pid namespace, else the namespace's init. */
static __noinline __s64 new_reaper(struct task_struct *father) {
	__s64 r = alive_thread(father);
	if(r != 0) {
		return r;
	}
	struct pid *pid = BPF_CORE_READ(father, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct pid_namespace *ns = pid_upid(pid, level).ns;
	struct task_struct *ns_reaper = BPF_CORE_READ(ns, child_reaper);
	if(ns_reaper == father) {
		return 0;
	}
	__s64 init_pid = BPF_CORE_READ(ns_reaper, pid);
	struct signal_struct *sig = BPF_CORE_READ(father, signal);
	if(!BPF_CORE_READ_BITFIELD_PROBED(sig, has_child_subreaper)) {
		return init_pid;
	}
	struct task_struct *p = BPF_CORE_READ(father, real_parent);
	for(int i = 0; i < MAX_REAPER_ANCESTORS; i++) {
		if(BPF_CORE_READ(p, thread_pid, level) != level || p == ns_reaper) {
			return init_pid;
		}
		sig = BPF_CORE_READ(p, signal);
		if(BPF_CORE_READ_BITFIELD_PROBED(sig, is_child_subreaper)) {
			/* the subreaper's own group leader if alive, else unknown */
			return (BPF_CORE_READ(p, flags) & PF_EXITING) ? -1 : BPF_CORE_READ(p, pid);
		}
		p = BPF_CORE_READ(p, real_parent);
	}
	return -1;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(frs_sched_exit, struct task_struct *task) {
	struct frs_settings *st = get_settings();
	if(!st || !(st->flags & FRS_FLAG_CAPTURE_PROCEXIT)) {
		return 0;
	}
	struct ev ev;
	if(ev_start(&ev, PPME_PROCEXIT_1_E, 5)) {
		return 0;
	}
	int code = BPF_CORE_READ(task, exit_code);
	push_u64(&ev, (__u64)(__s64)code);
	push_u64(&ev, (__u64)(__s64)((code >> 8) & 0xff));
	push_u8(&ev, (code & 0x7f) && ((code & 0x7f) != 0x7f) ? (__u8)(code & 0x7f) : 0);
	push_u8(&ev, (code & 0x80) ? 1 : 0);
	/* reaper_tid: who inherits the children (0: none to inherit, -1: not found within the
	 * probe's bounds, libsinsp then works it out). */
	__s64 reaper = 0;
	struct list_head *head = &task->children;
	struct list_head *next = BPF_CORE_READ(task, children.next);
	if(next != head) {
		reaper = new_reaper(task);
	}
	push_u64(&ev, (__u64)reaper);
	return ev_submit(&ev, BPF_CORE_READ(task, pid));
}
