#ifndef ISOLA_RISCV64CPUFEATURES_H
#define ISOLA_RISCV64CPUFEATURES_H
/* One byte per CPU feature, in the order of the builder's CPUFeatures @CStruct. */
typedef struct {
    unsigned char fI;
    unsigned char fM;
    unsigned char fA;
    unsigned char fF;
    unsigned char fD;
    unsigned char fC;
    unsigned char fV;
} CPUFeatures;
#endif
