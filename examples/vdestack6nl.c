/* placeholder: replaced by the netlink variant of the tutorial (issue 3) */
int main(void) { return 0; }
