/* ioth_ext.h - what libiothconf.so asks of libioth.so beyond the libioth
 * API: a stack's identity, whether it is one of our engine's stacks and, for
 * those, the configuration carried out by the stack's helper (which also
 * renews its leases); the calling thread's ioth_last_error() text; a hook
 * run as a stack goes. Private to vdestack++ (both libraries are built
 * together). Every function is thread-safe; those returning int return -1
 * with errno on failure. */
#ifndef VDESTACK_IOTH_EXT_H
#define VDESTACK_IOTH_EXT_H

#include <stdint.h>

struct ioth;

#ifdef __cplusplus
extern "C" {
#endif

/* A number that no other stack of this process has had or will have (0 for
 * NULL). */
uint64_t vdestack_ioth_serial(struct ioth *stack);
/* 1 if the stack is our engine's (configured by its helper), else 0. */
int vdestack_ioth_is_ours(struct ioth *stack);
/* Sets the text ioth_last_error() gives the calling thread. */
void vdestack_ioth_set_error(const char *message);
/* hook(serial) runs in ioth_delstack once the stack may go, before it goes
 * (one hook; NULL removes it). */
void vdestack_ioth_on_delete(void (*hook)(uint64_t serial));
/* ioth_config(stack, config) on one of our stacks, by its helper; with
 * newstackc, config may hold stack= and vnl= (ioth_newstackc's string).
 * Returns the mask, or -1 (the message in ioth_last_error()). *err is the
 * errno of the first source that failed (0: none); *message (its text) and
 * *debug (the state, when config says debug; else NULL) are malloc'd, the
 * caller frees them. */
int vdestack_ioth_config(struct ioth *stack, const char *config, int newstackc, int *err, char **message,
                         char **debug);
/* what 0: the resolv.conf text of the interface (iface NULL or "" = vde0,
 * or ifindex) in *text, returning 1, or 0 (and *text NULL) when unchanged
 * since the previous call; what 1: its DHCPv4 lease ("" when none),
 * returning 0. *text is malloc'd. */
int vdestack_ioth_query(struct ioth *stack, int what, const char *iface, unsigned ifindex, char **text);

#ifdef __cplusplus
}
#endif

#endif
