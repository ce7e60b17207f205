/*
 * CPU feature detection for the Native Image object: determineCPUFeatures fills the
 * CPUFeatures struct the builder describes in include/amd64cpufeatures.h, with HotSpot's
 * vm_version_x86 semantics, and checkCPUFeatures compares it with the features the image was
 * compiled for. Freestanding (cpuid only): linked into the hosted executable (svmhelpers.c
 * reports a mismatch) and into the bare-metal kernel (baremetal/src/main/c/svm.c panics).
 */
#include <cpuid.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "amd64cpufeatures.h"

/* ------------------------------------------------------------------------ */
/* CPU features (HotSpot vm_version_x86 feature_flags semantics)            */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint32_t eax, ebx, ecx, edx;
} cpuid_regs;

static cpuid_regs cpuid_leaf(uint32_t leaf, uint32_t subleaf) {
    cpuid_regs r;
    __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
    return r;
}

#define BIT(v, n) (((v) >> (n)) & 1u)

/* CPUID.1:ECX / EDX */
#define C1_SSE3 0
#define C1_CLMUL 1
#define C1_SSSE3 9
#define C1_FMA 12
#define C1_SSE4_1 19
#define C1_SSE4_2 20
#define C1_POPCNT 23
#define C1_AES 25
#define C1_OSXSAVE 27
#define C1_AVX 28
#define C1_F16C 29
#define C1_HV 31
#define D1_TSC 4
#define D1_CX8 8
#define D1_CMOV 15
#define D1_CLFLUSH 19
#define D1_MMX 23
#define D1_FXSR 24
#define D1_SSE 25
#define D1_SSE2 26
#define D1_HT 28
/* CPUID.7.0:EBX / ECX / EDX */
#define B7_BMI1 3
#define B7_AVX2 5
#define B7_BMI2 8
#define B7_ERMS 9
#define B7_RTM 11
#define B7_AVX512F 16
#define B7_AVX512DQ 17
#define B7_ADX 19
#define B7_AVX512IFMA 21
#define B7_CLFLUSHOPT 23
#define B7_CLWB 24
#define B7_AVX512PF 26
#define B7_AVX512ER 27
#define B7_AVX512CD 28
#define B7_SHA 29
#define B7_AVX512BW 30
#define B7_AVX512VL 31
#define C7_AVX512VBMI 1
#define C7_PKU 3
#define C7_OSPKE 4
#define C7_AVX512VBMI2 6
#define C7_CET_SS 7
#define C7_GFNI 8
#define C7_VAES 9
#define C7_VPCLMULQDQ 10
#define C7_AVX512VNNI 11
#define C7_AVX512BITALG 12
#define C7_AVX512VPOPCNTDQ 14
#define C7_RDPID 22
#define D7_FSRM 4
#define D7_SERIALIZE 14
#define D7_CET_IBT 20
#define D7_AVX512FP16 23
/* CPUID.7.1:EAX / EDX */
#define A71_SHA512 0
#define A71_AVX_IFMA 23
#define D71_AVX10 19
#define D71_APX_F 21
/* CPUID.0x24.0:EBX */
#define B24_VLEN512 18
/* CPUID.0x80000001:ECX / EDX */
#define CE1_LZCNT 5
#define CE1_SSE4A 6
#define CE1_PREFETCHW 8
#define DE1_MMX 23
#define DE1_FXSR 24
#define DE1_RDTSCP 27
#define DE1_3DNOW 31
/* CPUID.0x80000007:EDX */
#define DE7_INVTSC 8
/* XCR0 state components */
#define XCR0_SSE 1
#define XCR0_YMM 2
#define XCR0_OPMASK 5
#define XCR0_ZMM_HI256 6
#define XCR0_HI16_ZMM 7
#define XCR0_APX 19

typedef struct {
    uint32_t max_std, max_ext;
    uint32_t vendor_ebx;
    cpuid_regs l1, l4, l7, l7s1, l24, lb0, lb1, e1, e7, e8, e1e;
    uint64_t xcr0;
} cpu_info;

static void read_cpu_info(cpu_info *ci) {
    cpuid_regs r;
    __builtin_memset(ci, 0, sizeof *ci);
    r = cpuid_leaf(0, 0);
    ci->max_std = r.eax;
    ci->vendor_ebx = r.ebx;
    if (ci->max_std >= 1) {
        ci->l1 = cpuid_leaf(1, 0);
        /* XGETBV faults unless the OS enabled XSAVE (CR4.OSXSAVE). */
        if (BIT(ci->l1.ecx, C1_OSXSAVE)) {
            uint32_t lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            ci->xcr0 = ((uint64_t)hi << 32) | lo;
        }
    }
    if (ci->max_std >= 4) {
        r = cpuid_leaf(4, 0);
        if ((r.eax & 0x1f) != 0) /* 0 = no cache descriptor */
            ci->l4 = r;
    }
    if (ci->max_std >= 7) {
        ci->l7 = cpuid_leaf(7, 0);
        if (ci->l7.eax >= 1)
            ci->l7s1 = cpuid_leaf(7, 1);
    }
    if (ci->max_std >= 0xb) {
        ci->lb0 = cpuid_leaf(0xb, 0);
        r = cpuid_leaf(0xb, 1);
        if ((r.eax & 0x1f) != 0 || (r.ebx & 0xff) != 0)
            ci->lb1 = r;
    }
    if (ci->max_std >= 0x24 && BIT(ci->l7s1.edx, D71_AVX10))
        ci->l24 = cpuid_leaf(0x24, 0);
    ci->max_ext = cpuid_leaf(0x80000000u, 0).eax;
    if (ci->max_ext >= 0x80000001u)
        ci->e1 = cpuid_leaf(0x80000001u, 0);
    if (ci->max_ext >= 0x80000007u)
        ci->e7 = cpuid_leaf(0x80000007u, 0);
    if (ci->max_ext >= 0x80000008u)
        ci->e8 = cpuid_leaf(0x80000008u, 0);
    if (ci->max_ext >= 0x8000001eu)
        ci->e1e = cpuid_leaf(0x8000001eu, 0);
}

static int is_intel(const cpu_info *ci) { return ci->vendor_ebx == 0x756e6547; } /* "Genu" */
static int is_amd(const cpu_info *ci) { return ci->vendor_ebx == 0x68747541; }   /* "Auth" */
static int is_hygon(const cpu_info *ci) { return ci->vendor_ebx == 0x6f677948; } /* "Hygo" */
static int is_amd_family(const cpu_info *ci) { return is_amd(ci) || is_hygon(ci); }
/* "Cent"aurHauls or "  Sh"anghai */
static int is_zx(const cpu_info *ci) { return ci->vendor_ebx == 0x746e6543 || ci->vendor_ebx == 0x68532020; }

static uint32_t cpu_family(const cpu_info *ci) {
    return ((ci->l1.eax >> 8) & 0xf) + ((ci->l1.eax >> 20) & 0xff);
}

static uint32_t cpu_model(const cpu_info *ci) {
    return ((ci->l1.eax >> 4) & 0xf) | (((ci->l1.eax >> 16) & 0xf) << 4);
}

static int supports_topology(const cpu_info *ci) {
    return ci->max_std >= 0xb && ((ci->lb0.eax & 0x1f) | (ci->lb0.ebx & 0xffff)) != 0;
}

static uint32_t cores_per_cpu(const cpu_info *ci) {
    uint32_t result = 1;
    if (is_intel(ci) || is_zx(ci)) {
        int topo = supports_topology(ci);
        if (topo && (ci->lb0.ebx & 0xffff) != 0)
            result = (ci->lb1.ebx & 0xffff) / (ci->lb0.ebx & 0xffff);
        if (!topo || result == 0)
            result = ((ci->l4.eax >> 26) & 0x3f) + 1;
    } else if (is_amd_family(ci)) {
        result = (ci->e8.ecx & 0xff) + 1;
    }
    return result;
}

static uint32_t threads_per_core(const cpu_info *ci) {
    uint32_t result = 1;
    if ((is_intel(ci) || is_zx(ci)) && supports_topology(ci)) {
        result = ci->lb0.ebx & 0xffff;
    } else if (BIT(ci->l1.edx, D1_HT)) {
        if (cpu_family(ci) >= 0x17) {
            result = ((ci->e1e.ebx >> 8) & 0xff) + 1;
        } else {
            uint32_t cores = cores_per_cpu(ci);
            result = ((ci->l1.ebx >> 16) & 0xff) / (cores ? cores : 1);
        }
    }
    return result == 0 ? 1 : result;
}

/* Intel server parts that synchronize the TSC across sockets at reset. */
static int is_intel_tsc_synched_at_init(const cpu_info *ci) {
    if (is_intel(ci) && cpu_family(ci) == 6) {
        uint32_t m = cpu_model(ci);
        return m == 0x1a || m == 0x2c || m == 0x2d || m == 0x3e; /* NHM/WSM/SNB/IVB-EP */
    }
    return 0;
}

void determineCPUFeatures(CPUFeatures *f) {
    cpu_info ci;
    read_cpu_info(&ci);
    uint32_t c1 = ci.l1.ecx, d1 = ci.l1.edx;
    uint32_t b7 = ci.l7.ebx, c7 = ci.l7.ecx, d7 = ci.l7.edx;
    uint32_t a71 = ci.l7s1.eax, d71 = ci.l7s1.edx;
    uint32_t ce1 = ci.e1.ecx, de1 = ci.e1.edx;
    uint64_t x = ci.xcr0;
    int amd = is_amd_family(&ci);

    f->fCX8 = BIT(d1, D1_CX8);
    f->fCMOV = BIT(d1, D1_CMOV);
    f->fFLUSH = BIT(d1, D1_CLFLUSH);
    f->fFXSR = BIT(d1, D1_FXSR) || (amd && BIT(de1, DE1_FXSR));
    f->fHT = threads_per_core(&ci) > 1; /* also set for multi-core parts, as in HotSpot */
    f->fMMX = BIT(d1, D1_MMX) || (amd && BIT(de1, DE1_MMX));
    f->fSSE = BIT(d1, D1_SSE);
    f->fSSE2 = BIT(d1, D1_SSE2);
    f->fSSE3 = BIT(c1, C1_SSE3);
    f->fSSSE3 = BIT(c1, C1_SSSE3);
    f->fSSE4_1 = BIT(c1, C1_SSE4_1);
    f->fSSE4_2 = BIT(c1, C1_SSE4_2);
    f->fPOPCNT = BIT(c1, C1_POPCNT);

    /* AVX needs the OS to save XMM and YMM state (XCR0 bits 1 and 2). */
    if (BIT(c1, C1_AVX) && BIT(c1, C1_OSXSAVE) && BIT(x, XCR0_SSE) && BIT(x, XCR0_YMM)) {
        int zmm_state = BIT(x, XCR0_OPMASK) && BIT(x, XCR0_ZMM_HI256) && BIT(x, XCR0_HI16_ZMM);
        f->fAVX = 1;
        f->fVZEROUPPER = 1;
        f->fF16C = BIT(c1, C1_F16C);
        f->fAVX2 = BIT(b7, B7_AVX2);
        f->fAVX_IFMA = BIT(a71, A71_AVX_IFMA);
        f->fSHA512 = BIT(a71, A71_SHA512); /* VEX.256-encoded, needs YMM state */
        if (BIT(b7, B7_AVX512F) && zmm_state) {
            f->fAVX512F = 1;
            f->fAVX512CD = BIT(b7, B7_AVX512CD);
            f->fAVX512DQ = BIT(b7, B7_AVX512DQ);
            f->fAVX512_IFMA = BIT(b7, B7_AVX512IFMA);
            f->fAVX512PF = BIT(b7, B7_AVX512PF);
            f->fAVX512ER = BIT(b7, B7_AVX512ER);
            f->fAVX512BW = BIT(b7, B7_AVX512BW);
            f->fAVX512VL = BIT(b7, B7_AVX512VL);
            f->fAVX512_VPOPCNTDQ = BIT(c7, C7_AVX512VPOPCNTDQ);
            f->fAVX512_VPCLMULQDQ = BIT(c7, C7_VPCLMULQDQ);
            f->fAVX512_VAES = BIT(c7, C7_VAES);
            f->fGFNI = BIT(c7, C7_GFNI);
            f->fAVX512_VNNI = BIT(c7, C7_AVX512VNNI);
            f->fAVX512_BITALG = BIT(c7, C7_AVX512BITALG);
            f->fAVX512_VBMI = BIT(c7, C7_AVX512VBMI);
            f->fAVX512_VBMI2 = BIT(c7, C7_AVX512VBMI2);
            f->fAVX512_FP16 = BIT(d7, D7_AVX512FP16);
        }
        /*
         * AVX10 (converged AVX-512). Like HotSpot, only the 512-bit flavour
         * counts; version 1 implies the AVX-512 subsets listed in the
         * AVX10.1 specification.
         */
        if (is_intel(&ci) && BIT(d71, D71_AVX10) && BIT(ci.l24.ebx, B24_VLEN512) && zmm_state) {
            uint32_t version = ci.l24.ebx & 0xff;
            if (version >= 1) {
                f->fAVX10_1 = 1;
                f->fAVX512F = f->fAVX512CD = f->fAVX512DQ = f->fAVX512BW = f->fAVX512VL = 1;
                f->fAVX512_IFMA = f->fAVX512_VBMI = f->fAVX512_VBMI2 = f->fAVX512_VNNI = 1;
                f->fAVX512_BITALG = f->fAVX512_VPOPCNTDQ = f->fAVX512_FP16 = 1;
                f->fAVX512_VPCLMULQDQ = f->fAVX512_VAES = f->fGFNI = 1;
            }
            if (version >= 2)
                f->fAVX10_2 = 1;
        }
    }

    f->fHV = BIT(c1, C1_HV);
    f->fBMI1 = BIT(b7, B7_BMI1);
    f->fTSC = BIT(d1, D1_TSC);
    f->fTSCINV_BIT = BIT(ci.e7.edx, DE7_INVTSC);
    f->fAES = BIT(c1, C1_AES);
    f->fERMS = BIT(b7, B7_ERMS);
    f->fFSRM = BIT(d7, D7_FSRM);
    f->fCLMUL = BIT(c1, C1_CLMUL);
    f->fRTM = BIT(b7, B7_RTM);
    f->fADX = BIT(b7, B7_ADX);
    f->fBMI2 = BIT(b7, B7_BMI2);
    f->fSHA = BIT(b7, B7_SHA);
    f->fFMA = BIT(c1, C1_FMA);
    f->fFLUSHOPT = BIT(b7, B7_CLFLUSHOPT);
    f->fRDTSCP = BIT(de1, DE1_RDTSCP);
    f->fRDPID = BIT(c7, C7_RDPID);
    /* APX needs the extended-GPR state enabled in XCR0. */
    f->fAPX_F = BIT(d71, D71_APX_F) && BIT(x, XCR0_APX);

    if (amd) {
        f->fAMD_3DNOW_PREFETCH = BIT(de1, DE1_3DNOW) || BIT(ce1, CE1_PREFETCHW);
        f->fLZCNT = BIT(ce1, CE1_LZCNT);
        f->fSSE4A = BIT(ce1, CE1_SSE4A);
    }
    if (is_intel(&ci) || is_zx(&ci)) {
        f->fLZCNT = BIT(ce1, CE1_LZCNT);
        f->fAMD_3DNOW_PREFETCH = BIT(ce1, CE1_PREFETCHW);
    }
    /* JDK 25 reports CLWB for any vendor, SERIALIZE only for Intel. */
    f->fCLWB = BIT(b7, B7_CLWB);
    if (is_intel(&ci))
        f->fSERIALIZE = BIT(d7, D7_SERIALIZE);

    f->fPKU = BIT(c7, C7_PKU);
    f->fOSPKE = BIT(c7, C7_OSPKE);
    f->fCET_SS = BIT(c7, C7_CET_SS);
    f->fCET_IBT = BIT(d7, D7_CET_IBT);

    /*
     * Invariant TSC that is also synchronized across sockets. This is
     * HotSpot's intended rule, and GraalVM's libchelper applies it. (Temurin
     * 25's `java -Xlog:os+cpu` lists "tscinvbit" but not "tscinv" on AMD,
     * apparently because HotSpot tests its not-yet-stored feature word.)
     */
    if (f->fTSCINV_BIT &&
        ((amd && !(is_amd(&ci) && cpu_family(&ci) == 0x11)) || is_intel_tsc_synched_at_init(&ci)))
        f->fTSCINV = 1;

    /* Xeon Phi (Knights Landing/Mill): HotSpot disables these. */
    if (is_intel(&ci) && cpu_family(&ci) == 6 && (cpu_model(&ci) == 0x57 || cpu_model(&ci) == 0x85)) {
        f->fVZEROUPPER = f->fAVX512BW = f->fAVX512VL = f->fAVX512DQ = 0;
        f->fAVX512_VNNI = f->fAVX512_VAES = f->fAVX512_VPOPCNTDQ = f->fAVX512_VPCLMULQDQ = 0;
        f->fAVX512_VBMI = f->fAVX512_VBMI2 = f->fCLWB = f->fFLUSHOPT = 0;
        f->fGFNI = f->fAVX512_BITALG = f->fAVX512_IFMA = 0;
    }
}

#define FEATURE_BYTES ((sizeof(CPUFeatures) + 7) / 8 * 8)

int checkCPUFeatures(uint8_t *buildtimeMask) {
    /* The host does not change while we run: compute once (-1 = not yet). */
    static _Atomic int cached = -1;
    int result = atomic_load(&cached);
    if (result != -1)
        return result;

    uint8_t host[FEATURE_BYTES];
    __builtin_memset(host, 0, sizeof host);
    determineCPUFeatures((CPUFeatures *)host);
    result = 0;
    for (size_t i = 0; i < sizeof host; i += 8) {
        uint64_t m, h;
        __builtin_memcpy(&m, buildtimeMask + i, 8);
        __builtin_memcpy(&h, host + i, 8);
        /* Required bytes are 0xFE in the mask; the host must supply bit 0. */
        if ((m | h) != UINT64_MAX) {
            result = 1;
            break;
        }
    }
    atomic_store(&cached, result);
    return result;
}
