#ifndef ISOLA_AARCH64CPUFEATURES_H
#define ISOLA_AARCH64CPUFEATURES_H
/* One byte per CPU feature, in the order of the builder's CPUFeatures @CStruct. */
typedef struct {
    unsigned char fFP;
    unsigned char fASIMD;
    unsigned char fEVTSTRM;
    unsigned char fAES;
    unsigned char fPMULL;
    unsigned char fSHA1;
    unsigned char fSHA2;
    unsigned char fCRC32;
    unsigned char fLSE;
    unsigned char fDCPOP;
    unsigned char fSHA3;
    unsigned char fSHA512;
    unsigned char fSVE;
    unsigned char fSVE2;
    unsigned char fSTXR_PREFETCH;
    unsigned char fA53MAC;
    unsigned char fDMB_ATOMICS;
    unsigned char fPACA;
    unsigned char fSVEBITPERM;
    unsigned char fFPHP;
    unsigned char fASIMDHP;
} CPUFeatures;
#endif
