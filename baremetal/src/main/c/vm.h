/* vm (layer 5 of the runtime, see README.md): the heap window's page tables, mmap, and demand paging. */
#ifndef ISOLA_VM_H
#define ISOLA_VM_H

#include <stddef.h>
#include <stdint.h>

/* mmap's protections and flags, as Linux x86-64 defines them: the image was compiled against those. */
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_FAILED ((void *)-1)

/* Makes the heap window's PDPT (a frame from the pool) and links it into the boot page tables. */
void isola_vm_init(void);
void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
int munmap(void *addr, size_t len);
int mprotect(void *addr, size_t len, int prot);
/* From the page-fault handler: resolves a fault in a demand range with a fresh frame. Returns 1 if resolved. */
int isola_demand_fault(uint64_t va, uint64_t error);
#endif
