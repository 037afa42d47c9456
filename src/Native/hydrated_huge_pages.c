// Linked into the NativeAOT executables (runcmd, runcmd-agent) by HydratedHugePages.targets; docs/native-aot.md,
// "Start-up data in huge pages".
//
// A NativeAOT program starts by writing its runtime data (about 5 MB for runcmd) out of a compressed copy into the
// zero-filled end of its writable segment (`.hydrated`), before main runs any managed code. Touched one 4 KiB page
// at a time, that is about 1,300 page faults in every start; where a fault is slow (a VM, memory cgroups, DAMON:
// 10-15 us each on the development machine, docs/performance.md item 43) they were a third of a CLI call.
// This constructor runs before that (ELF constructors run before main) and asks the kernel for transparent huge
// pages over the 2 MiB blocks that zero-filled tail covers whole, so each block is one fault. It only advises:
// where THP is off ("never") or no huge page is free, the kernel falls back to 4 KiB pages and nothing changes.

#define _GNU_SOURCE
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)

static int advise_zero_fill(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum; i++)
    {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || !(segment->p_flags & PF_W) || segment->p_memsz <= segment->p_filesz)
        {
            continue;
        }

        uintptr_t start = (info->dlpi_addr + segment->p_vaddr + segment->p_filesz + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t end = (info->dlpi_addr + segment->p_vaddr + segment->p_memsz) & ~(HUGE_PAGE - 1);
        if (end > start)
        {
            madvise((void *)start, end - start, MADV_HUGEPAGE);
        }
    }

    // The first object listed is the executable itself; its libraries are none of our business.
    return 1;
}

__attribute__((constructor)) static void hydrated_data_in_huge_pages(void)
{
    dl_iterate_phdr(advise_zero_fill, NULL);
}
