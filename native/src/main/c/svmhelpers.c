/*
 * C helpers that a Native Image 25.0.1 object imports and that a GraalVM
 * distribution would normally supply in liblibchelper.a, libsvm_container.a
 * and libjvm.a (see /tmp/svmprobe/report.md, sections 2 and 3).
 *
 * Linux/x86-64 + glibc only. JVM_ActiveProcessorCount is deliberately NOT
 * defined here: it lives in libjvm.so (jvm.c), where libjava.so needs a
 * versioned (SUNWprivate_1.1) definition anyway; the image and
 * svm_container_active_processor_count() use that single copy.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <locale.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/types.h>
#include <unistd.h>

#include <cpuid.h>
#include <jni.h>

#include "amd64cpufeatures.h"
#include "svm_locale.h"

#if !defined(__x86_64__) || !defined(__linux__)
#error "svmhelpers.c supports only Linux on x86-64"
#endif

/* Provided by libjvm.so (jvm.c). */
JNIEXPORT jint JNICALL JVM_ActiveProcessorCount(void);

int svm_container_active_processor_count(void);

int checkCPUFeatures(uint8_t *buildtimeMask); /* cpufeatures.c */

int checkCPUFeaturesOrExit(uint8_t *buildtimeMask, const char *errorMessage) {
    if (checkCPUFeatures(buildtimeMask)) {
        fputs(errorMessage, stderr);
        exit(1);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Linux / libc helpers                                                      */
/* ------------------------------------------------------------------------ */

int getThreadId(void) {
    return (int)syscall(SYS_gettid);
}

/* User CPU time of a thread of this process in ns, or -1. */
long getThreadUserTimeSlow(int tid) {
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do {
        n = read(fd, buf, sizeof buf - 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* The command name (field 2) may contain spaces and ')'; skip past the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* After ')': state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime */
    p++;
    for (int field = 0; field < 11; field++) {
        p += strspn(p, " ");
        p += strcspn(p, " ");
    }
    char *end;
    unsigned long utime = strtoul(p, &end, 10);
    if (end == p)
        return -1;
    long ticks = sysconf(_SC_CLK_TCK);
    if (ticks <= 0)
        return -1;
    return (long)(utime * (1000000000UL / (unsigned long)ticks));
}

void *mremapP(void *oldAddress, size_t oldSize, size_t newSize, int flags, void *newAddress) {
    return mremap(oldAddress, oldSize, newSize, flags, newAddress);
}

char **getEnviron(void) {
    return environ;
}

int fprintfSD(FILE *stream, const char *format, char *arg0, int arg1) {
    return fprintf(stream, format, arg0, arg1);
}

int openSII(const char *pathname, int flags, int mode) {
    return open(pathname, flags, (mode_t)mode);
}

int openatISII(int dirfd, const char *pathname, int flags, int mode) {
    return openat(dirfd, pathname, flags, (mode_t)mode);
}

/*
 * jdk.Jvm.initialize(): one-time set-up of the libjvm shim. On POSIX there is
 * nothing to do (GraalVM's own version is empty too); libjvm.so needs no
 * initialization because all its real functions are stateless.
 */
void initialize(void) {
}

/* ------------------------------------------------------------------------ */
/* Time zone (port of JDK TimeZone_md.c findJavaTZ_md for Linux)            */
/* ------------------------------------------------------------------------ */

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define DEFAULT_ZONEINFO_FILE "/etc/localtime"

/* Part of a path after ".../zoneinfo/", or NULL. */
static const char *zone_name(const char *path) {
    const char *p = strstr(path, "zoneinfo/");
    return p ? p + strlen("zoneinfo/") : NULL;
}

/* Collapse "//", "/./" and "/x/../" so a relative symlink target still names the zone. */
static void normalize_path(char *path) {
    char *segs[PATH_MAX / 2];
    int n = 0, absolute = path[0] == '/';
    char *save = NULL;
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    for (char *s = strtok_r(copy, "/", &save); s != NULL; s = strtok_r(NULL, "/", &save)) {
        if (strcmp(s, ".") == 0)
            continue;
        if (strcmp(s, "..") == 0 && n > 0 && strcmp(segs[n - 1], "..") != 0) {
            n--;
            continue;
        }
        if (n < (int)(sizeof segs / sizeof segs[0]))
            segs[n++] = s;
    }
    char *out = path;
    size_t left = PATH_MAX;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(out, left, "%s%s", (i > 0 || absolute) ? "/" : "", segs[i]);
        if (w < 0 || (size_t)w >= left)
            break;
        out += w;
        left -= (size_t)w;
    }
}

static char *read_whole_file(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        buf = malloc((size_t)st.st_size);
        size_t got = 0;
        while (buf != NULL && got < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                free(buf);
                buf = NULL;
                break;
            }
            got += (size_t)n;
        }
        *size = got;
    }
    close(fd);
    return buf;
}

/* Same content and size as the copied /etc/localtime? */
static int same_zone_file(const char *path, const char *data, size_t size) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != size)
        return 0;
    size_t got = 0;
    char *other = read_whole_file(path, &got);
    int same = other != NULL && got == size && memcmp(other, data, size) == 0;
    free(other);
    return same;
}

/* Depth-first search of the zoneinfo tree for a file equal to /etc/localtime. */
static char *find_zone_file(const char *dir, const char *data, size_t size, int depth) {
    if (depth > 8)
        return NULL;
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    char *found = NULL;
    struct dirent *e;
    while (found == NULL && (e = readdir(d)) != NULL) {
        /* Skip dot files and aliases that are never the canonical ID (as the JDK does). */
        if (e->d_name[0] == '.' || strcmp(e->d_name, "ROC") == 0 ||
            strcmp(e->d_name, "posixrules") == 0 || strcmp(e->d_name, "localtime") == 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            found = find_zone_file(path, data, size, depth + 1);
        } else if (same_zone_file(path, data, size)) {
            found = strdup(path + strlen(ZONEINFO_DIR) + 1);
        }
    }
    closedir(d);
    return found;
}

static char *platform_time_zone_id(void) {
    /* Debian and derivatives: /etc/timezone holds the ID. */
    FILE *fp = fopen("/etc/timezone", "re");
    if (fp != NULL) {
        char line[256];
        char *tz = NULL;
        if (fgets(line, sizeof line, fp) != NULL) {
            line[strcspn(line, "\n")] = '\0';
            if (line[0] != '\0')
                tz = strdup(line);
        }
        fclose(fp);
        if (tz != NULL)
            return tz;
    }

    struct stat st;
    if (lstat(DEFAULT_ZONEINFO_FILE, &st) != 0)
        return NULL;
    if (S_ISLNK(st.st_mode)) {
        char link[PATH_MAX];
        ssize_t len = readlink(DEFAULT_ZONEINFO_FILE, link, sizeof link - 1);
        if (len < 0)
            return NULL;
        link[len] = '\0';
        normalize_path(link);
        const char *name = zone_name(link);
        if (name != NULL && name[0] != '\0')
            return strdup(name);
    }

    /* A copied zone file: find the identical file under zoneinfo. UTC/GMT first, as most common. */
    size_t size = 0;
    char *data = read_whole_file(DEFAULT_ZONEINFO_FILE, &size);
    if (data == NULL)
        return NULL;
    char *tz = NULL;
    static const char *const popular[] = {"UTC", "GMT"};
    for (size_t i = 0; tz == NULL && i < sizeof popular / sizeof popular[0]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", ZONEINFO_DIR, popular[i]);
        if (same_zone_file(path, data, size))
            tz = strdup(popular[i]);
    }
    if (tz == NULL)
        tz = find_zone_file(ZONEINFO_DIR, data, size, 0);
    free(data);
    return tz;
}

/* Returns a malloc'd Java time zone ID (the caller frees it) or NULL. */
char *SVM_FindJavaTZmd(const char *tzMappings, int length) {
    (void)tzMappings; /* only used on Windows */
    (void)length;
    char *owned = NULL;
    const char *tz = getenv("TZ");
    if (tz == NULL || tz[0] == '\0')
        tz = owned = platform_time_zone_id();
    if (tz == NULL)
        return NULL;
    if (tz[0] == ':')
        tz++;
    if (strncmp(tz, "posix/", 6) == 0)
        tz += 6;
    char *result = strdup(tz);
    free(owned);
    return result;
}

/* ------------------------------------------------------------------------ */
/* Locale (after JDK java_props_md.c ParseLocale)                           */
/* ------------------------------------------------------------------------ */

/* NULL-terminated key/value tables, as in the JDK's locale_str.h. */
static const char *const locale_aliases[][2] = {
    {"ar", "ar_EG"}, {"be", "be_BY"}, {"bg", "bg_BG"}, {"br", "br_FR"}, {"ca", "ca_ES"},
    {"cs", "cs_CZ"}, {"cz", "cs_CZ"}, {"da", "da_DK"}, {"de", "de_DE"}, {"el", "el_GR"},
    {"en", "en_US"}, {"eo", "eo"}, {"es", "es_ES"}, {"et", "et_EE"}, {"eu", "eu_ES"},
    {"fi", "fi_FI"}, {"fr", "fr_FR"}, {"ga", "ga_IE"}, {"gl", "gl_ES"}, {"he", "iw_IL"},
    {"hr", "hr_HR"}, {"hs", "en_US"}, {"hu", "hu_HU"}, {"id", "in_ID"}, {"in", "in_ID"},
    {"is", "is_IS"}, {"it", "it_IT"}, {"iw", "iw_IL"}, {"ja", "ja_JP"}, {"kl", "kl_GL"},
    {"ko", "ko_KR"}, {"lt", "lt_LT"}, {"lv", "lv_LV"}, {"mk", "mk_MK"}, {"nl", "nl_NL"},
    {"no", "no_NO"}, {"pl", "pl_PL"}, {"pt", "pt_PT"}, {"ro", "ro_RO"}, {"ru", "ru_RU"},
    {"se", "se_NO"}, {"sk", "sk_SK"}, {"sl", "sl_SI"}, {"sq", "sq_AL"}, {"sr", "sr_CS"},
    {"su", "fi_FI"}, {"sv", "sv_SE"}, {"th", "th_TH"}, {"tr", "tr_TR"}, {"ua", "en_US"},
    {"uk", "uk_UA"}, {"vi", "vi_VN"}, {"wa", "wa_BE"}, {"zh", "zh_CN"},
    {"bokmal", "nb_NO"}, {"catalan", "ca_ES"}, {"croatian", "hr_HR"}, {"czech", "cs_CZ"},
    {"danish", "da_DK"}, {"dansk", "da_DK"}, {"deutsch", "de_DE"}, {"dutch", "nl_NL"},
    {"eesti", "et_EE"}, {"estonian", "et_EE"}, {"finnish", "fi_FI"}, {"french", "fr_FR"},
    {"galego", "gl_ES"}, {"galician", "gl_ES"}, {"german", "de_DE"}, {"greek", "el_GR"},
    {"hebrew", "iw_IL"}, {"hrvatski", "hr_HR"}, {"hungarian", "hu_HU"}, {"icelandic", "is_IS"},
    {"italian", "it_IT"}, {"japanese", "ja_JP"}, {"korean", "ko_KR"}, {"lithuanian", "lt_LT"},
    {"norwegian", "no_NO"}, {"nynorsk", "nn_NO"}, {"polish", "pl_PL"}, {"portuguese", "pt_PT"},
    {"romanian", "ro_RO"}, {"russian", "ru_RU"}, {"slovak", "sk_SK"}, {"slovene", "sl_SI"},
    {"slovenian", "sl_SI"}, {"spanish", "es_ES"}, {"swedish", "sv_SE"}, {"thai", "th_TH"},
    {"turkish", "tr_TR"}, {NULL, NULL}};

static const char *const language_names[][2] = {
    {"C", "en"}, {"POSIX", "en"}, {"cz", "cs"}, {"he", "iw"}, {"hu", "hu"},
    {"id", "in"}, {"sh", "sr"}, {"su", "fi"}, {"yi", "ji"}, {NULL, NULL}};

static const char *const country_names[][2] = {{"RN", "US"}, {"YU", "CS"}, {NULL, NULL}};

static const char *const script_names[][2] = {
    {"Arab", "Arab"}, {"Cyrl", "Cyrl"}, {"cyrillic", "Cyrl"}, {"Deva", "Deva"},
    {"devanagari", "Deva"}, {"Ethi", "Ethi"}, {"Grek", "Grek"}, {"Hans", "Hans"},
    {"Hant", "Hant"}, {"Hebr", "Hebr"}, {"Latn", "Latn"}, {"latin", "Latn"},
    {"Tfng", "Tfng"}, {"Thai", "Thai"}, {NULL, NULL}};

static const char *const variant_names[][2] = {{"nynorsk", "NY"}, {NULL, NULL}};

static const char *map_lookup(const char *const map[][2], const char *key) {
    for (int i = 0; map[i][0] != NULL; i++)
        if (strcmp(map[i][0], key) == 0)
            return map[i][1];
    return NULL;
}

static svm_locale_props_t svm_locale;

/* Split "language_COUNTRY.encoding@variant" off at the first '.' or '@'. */
static void split_encoding_variant(char *name, char *encoding_variant) {
    char *p = strchr(name, '.');
    if (p == NULL)
        p = strchr(name, '@');
    if (p != NULL) {
        strcpy(encoding_variant, p);
        *p = '\0';
    } else {
        encoding_variant[0] = '\0';
    }
}

/*
 * Fill language/script/country/variant for one locale category.
 * Returns 1 on success, 0 if out of memory. Strings are never freed.
 */
static int parse_locale(int category, char **language_out, char **script_out,
                        char **country_out, char **variant_out) {
    const char *lc = setlocale(category, NULL);
    if (lc == NULL || strcmp(lc, "C") == 0 || strcmp(lc, "POSIX") == 0)
        lc = "en_US";

    size_t cap = strlen(lc) + 1;
    for (int i = 0; locale_aliases[i][0] != NULL; i++) /* aliases may be longer than lc */
        if (strlen(locale_aliases[i][1]) + 1 > cap)
            cap = strlen(locale_aliases[i][1]) + 1;
    char *temp = malloc(cap);
    char *encoding_variant = malloc(cap);
    if (temp == NULL || encoding_variant == NULL) {
        free(temp);
        free(encoding_variant);
        return 0;
    }
    strcpy(temp, lc);
    split_encoding_variant(temp, encoding_variant);

    const char *alias = map_lookup(locale_aliases, temp);
    if (alias != NULL) {
        char saved[cap];
        strcpy(saved, encoding_variant);
        strcpy(temp, alias);
        split_encoding_variant(temp, encoding_variant);
        if (encoding_variant[0] == '\0') /* keep the original .encoding@variant */
            strcpy(encoding_variant, saved);
    }

    char *language = temp;
    char *country = strchr(temp, '_');
    if (country != NULL)
        *country++ = '\0';
    /* encoding_variant is ".enc@var", ".enc", "@var" or "". The encoding is ignored. */
    char *variant = strchr(encoding_variant, '@');
    if (variant != NULL)
        variant++;

    const char *mapped;
    if (language_out != NULL) {
        if (language[0] == '\0')
            *language_out = "en";
        else if ((mapped = map_lookup(language_names, language)) != NULL)
            *language_out = (char *)mapped;
        else if ((*language_out = strdup(language)) == NULL)
            goto oom;
    }
    if (country_out != NULL && country != NULL && country[0] != '\0') {
        if ((mapped = map_lookup(country_names, country)) != NULL)
            *country_out = (char *)mapped;
        else if ((*country_out = strdup(country)) == NULL)
            goto oom;
    }
    /* Only variants known to the tables are used; others are ignored (as the JDK does). */
    if (variant != NULL) {
        if (script_out != NULL && (mapped = map_lookup(script_names, variant)) != NULL)
            *script_out = (char *)mapped;
        if (variant_out != NULL && (mapped = map_lookup(variant_names, variant)) != NULL)
            *variant_out = (char *)mapped;
    }
    free(temp);
    free(encoding_variant);
    return 1;
oom:
    free(temp);
    free(encoding_variant);
    return 0;
}

int svm_initialize_locale(void) {
    memset(&svm_locale, 0, sizeof svm_locale);
    /* Like the JDK launcher: adopt the environment's locale (LANG, LC_*). */
    setlocale(LC_ALL, "");
    if (!parse_locale(LC_CTYPE, &svm_locale.format_language, &svm_locale.format_script,
                      &svm_locale.format_country, &svm_locale.format_variant))
        return SVM_LOCALE_INITIALIZATION_OUT_OF_MEMORY;
    if (!parse_locale(LC_MESSAGES, &svm_locale.display_language, &svm_locale.display_script,
                      &svm_locale.display_country, &svm_locale.display_variant))
        return SVM_LOCALE_INITIALIZATION_OUT_OF_MEMORY;
    return SVM_LOCALE_INITIALIZATION_SUCCEEDED;
}

svm_locale_props_t *svm_get_locale(void) {
    return &svm_locale;
}

/* ------------------------------------------------------------------------ */
/* sun.misc.Signal support: one process-wide table, shared by all isolates  */
/* ------------------------------------------------------------------------ */

static atomic_int signal_table_open;
static atomic_long pending_signals[NSIG];
static sem_t signal_semaphore;

int cSunMiscSignal_open(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&signal_table_open, &expected, 2))
        return 1; /* claimed by another isolate */
    for (int i = 0; i < NSIG; i++)
        atomic_store(&pending_signals[i], 0);
    if (sem_init(&signal_semaphore, 0, 0) != 0) {
        int saved = errno;
        atomic_store(&signal_table_open, 0);
        errno = saved;
        return -1;
    }
    atomic_store(&signal_table_open, 1); /* handler may post only from now on */
    return 0;
}

int cSunMiscSignal_close(void) {
    int expected = 1;
    if (!atomic_compare_exchange_strong(&signal_table_open, &expected, 2))
        return 0; /* not open: nothing to tear down */
    int status = sem_destroy(&signal_semaphore);
    atomic_store(&signal_table_open, 0);
    return status;
}

int cSunMiscSignal_awaitSemaphore(void) {
    if (sem_wait(&signal_semaphore) != 0 && errno != EINTR)
        return -1;
    return 0; /* an interrupted wait just makes the caller re-check the table */
}

int cSunMiscSignal_signalSemaphore(void) {
    return sem_post(&signal_semaphore);
}

int cSunMiscSignal_signalRangeCheck(int sig) {
    return sig > 0 && sig < NSIG;
}

int cSunMiscSignal_checkPendingSignal(void) {
    for (int sig = 1; sig < NSIG; sig++) {
        long count = atomic_load(&pending_signals[sig]);
        while (count > 0) {
            if (atomic_compare_exchange_weak(&pending_signals[sig], &count, count - 1))
                return sig;
        }
    }
    return -1;
}

/* Async-signal-safe: lock-free atomics and sem_post only; errno is preserved. */
static void cSunMiscSignal_handler(int sig) {
    int saved = errno;
    if (sig > 0 && sig < NSIG && atomic_load(&signal_table_open) == 1) {
        atomic_fetch_add(&pending_signals[sig], 1);
        sem_post(&signal_semaphore);
    }
    errno = saved;
}

void (*cSunMiscSignal_signalHandlerFunctionPointer(void))(int) {
    return cSunMiscSignal_handler;
}

/* ------------------------------------------------------------------------ */
/* Container support (after HotSpot's cgroup v1/v2 code)                    */
/* ------------------------------------------------------------------------ */

#define SVM_CONTAINER_VERSION 240100
#define OSCONTAINER_ERROR (-2)
#define CG_UNLIMITED (-1)

typedef struct {
    char *mount;  /* mount point of the hierarchy */
    char *path;   /* this process' cgroup directory inside it */
    int read_only;
} cg_controller;

static struct {
    int version; /* 0 = no cgroups found, 1 or 2 */
    cg_controller memory, cpu, cpuset, cpuacct;
} cg;

static char *read_file_line(const char *path, char *buf, size_t size) {
    FILE *fp = fopen(path, "re");
    if (fp == NULL)
        return NULL;
    char *r = fgets(buf, (int)size, fp);
    fclose(fp);
    if (r != NULL)
        buf[strcspn(buf, "\n")] = '\0';
    return r;
}

/* Reads a number, or "max" (v2) as CG_UNLIMITED; OSCONTAINER_ERROR if unreadable. */
static jlong cg_read_number(const char *dir, const char *file) {
    if (dir == NULL)
        return OSCONTAINER_ERROR;
    char path[PATH_MAX], buf[128];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (read_file_line(path, buf, sizeof buf) == NULL)
        return OSCONTAINER_ERROR;
    if (strncmp(buf, "max", 3) == 0)
        return CG_UNLIMITED;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (end == buf || errno != 0) {
        /* v1 uses "-1" for "no quota". */
        long long s = strtoll(buf, &end, 10);
        return end == buf ? OSCONTAINER_ERROR : (s < 0 ? CG_UNLIMITED : (jlong)s);
    }
    return v > (unsigned long long)INT64_MAX ? CG_UNLIMITED : (jlong)v;
}

/* Value of "key <number>" in a flat keyed file such as memory.stat. */
static jlong cg_read_key(const char *dir, const char *file, const char *key) {
    if (dir == NULL)
        return OSCONTAINER_ERROR;
    char path[PATH_MAX], line[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *fp = fopen(path, "re");
    if (fp == NULL)
        return OSCONTAINER_ERROR;
    jlong result = OSCONTAINER_ERROR;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, fp) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            unsigned long long v = strtoull(line + klen + 1, NULL, 10);
            result = v > (unsigned long long)INT64_MAX ? CG_UNLIMITED : (jlong)v;
            break;
        }
    }
    fclose(fp);
    return result;
}

static uint64_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

static uint64_t host_swap(void) {
    struct sysinfo si;
    return sysinfo(&si) == 0 ? (uint64_t)si.totalswap * si.mem_unit : 0;
}

/* Directory of our cgroup in a hierarchy mounted at mount with root root (HotSpot's rules). */
static char *cg_subsystem_path(const char *mount, const char *root, const char *cgroup) {
    char buf[PATH_MAX];
    if (strcmp(root, "/") == 0) {
        snprintf(buf, sizeof buf, "%s%s", mount, strcmp(cgroup, "/") == 0 ? "" : cgroup);
    } else if (strcmp(root, cgroup) == 0) {
        snprintf(buf, sizeof buf, "%s", mount);
    } else {
        size_t rl = strlen(root);
        if (strncmp(cgroup, root, rl) == 0 && cgroup[rl] == '/')
            snprintf(buf, sizeof buf, "%s%s", mount, cgroup + rl);
        else
            snprintf(buf, sizeof buf, "%s", mount); /* container view: our cgroup is the mount */
    }
    /* A path we cannot see (e.g. a private cgroup namespace) falls back to the mount point. */
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        snprintf(buf, sizeof buf, "%s", mount);
    return strdup(buf);
}

static int has_token(const char *list, const char *token) {
    size_t tl = strlen(token);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == tl && strncmp(p, token, tl) == 0)
            return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* cgroup v2 if none of the controllers we need is bound to a v1 hierarchy. */
static int detect_cgroup_version(void) {
    FILE *fp = fopen("/proc/cgroups", "re");
    if (fp == NULL)
        return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? 2 : 0;
    char line[256], name[64];
    int hierarchy, num, enabled, v1 = 0;
    while (fgets(line, sizeof line, fp) != NULL) {
        if (line[0] == '#')
            continue;
        if (sscanf(line, "%63s %d %d %d", name, &hierarchy, &num, &enabled) != 4)
            continue;
        if (enabled && hierarchy != 0 &&
            (strcmp(name, "memory") == 0 || strcmp(name, "cpu") == 0 ||
             strcmp(name, "cpuset") == 0 || strcmp(name, "cpuacct") == 0))
            v1 = 1;
    }
    fclose(fp);
    return v1 ? 1 : 2;
}

static void cg_discover(void) {
    char line[4096];
    char v2_path[PATH_MAX] = "";
    char v1_path[4][PATH_MAX] = {"", "", "", ""}; /* memory, cpu, cpuset, cpuacct */
    static const char *const v1_names[4] = {"memory", "cpu", "cpuset", "cpuacct"};
    cg_controller *ctrl[4] = {&cg.memory, &cg.cpu, &cg.cpuset, &cg.cpuacct};

    cg.version = detect_cgroup_version();
    if (cg.version == 0)
        return;

    /* /proc/self/cgroup: "id:controllers:path" (v2: "0::path"). */
    FILE *fp = fopen("/proc/self/cgroup", "re");
    if (fp == NULL) {
        cg.version = 0;
        return;
    }
    while (fgets(line, sizeof line, fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c1 = *c2 = '\0';
        const char *controllers = c1 + 1, *path = c2 + 1;
        if (strcmp(line, "0") == 0 && controllers[0] == '\0')
            snprintf(v2_path, sizeof v2_path, "%s", path);
        for (int i = 0; i < 4; i++)
            if (has_token(controllers, v1_names[i]))
                snprintf(v1_path[i], sizeof v1_path[i], "%s", path);
    }
    fclose(fp);

    /* mountinfo: "id parent maj:min root mountpoint opts [tags] - fstype source superopts" */
    fp = fopen("/proc/self/mountinfo", "re");
    if (fp == NULL) {
        cg.version = 0;
        return;
    }
    while (fgets(line, sizeof line, fp) != NULL) {
        char root[PATH_MAX], mount[PATH_MAX], opts[256], fstype[64], superopts[512];
        char *dash = strstr(line, " - ");
        if (dash == NULL)
            continue;
        if (sscanf(line, "%*d %*d %*s %4095s %4095s %255s", root, mount, opts) != 3 ||
            sscanf(dash + 3, "%63s %*s %511s", fstype, superopts) != 2)
            continue;
        int ro = has_token(opts, "ro");
        if (cg.version == 2 && strcmp(fstype, "cgroup2") == 0 && v2_path[0] != '\0') {
            /* Prefer /sys/fs/cgroup if the unified hierarchy is mounted more than once. */
            if (cg.memory.mount != NULL && strcmp(mount, "/sys/fs/cgroup") != 0)
                continue;
            for (int i = 0; i < 4; i++) {
                free(ctrl[i]->mount);
                free(ctrl[i]->path);
                ctrl[i]->mount = strdup(mount);
                ctrl[i]->path = cg_subsystem_path(mount, root, v2_path);
                ctrl[i]->read_only = ro;
            }
        } else if (cg.version == 1 && strcmp(fstype, "cgroup") == 0) {
            for (int i = 0; i < 4; i++) {
                if (ctrl[i]->mount == NULL && v1_path[i][0] != '\0' && has_token(superopts, v1_names[i])) {
                    ctrl[i]->mount = strdup(mount);
                    ctrl[i]->path = cg_subsystem_path(mount, root, v1_path[i]);
                    ctrl[i]->read_only = ro;
                }
            }
        }
    }
    fclose(fp);
}

/*
 * Smallest limit in file along our cgroup path up to the mount point: a
 * limit on a parent group applies to us too (HotSpot walks up the same way).
 */
static jlong cg_lowest_limit(const cg_controller *c, const char *file) {
    if (c->path == NULL)
        return OSCONTAINER_ERROR;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", c->path);
    size_t mlen = strlen(c->mount);
    jlong best = cg_read_number(dir, file);
    if (best == OSCONTAINER_ERROR)
        return best;
    while (strlen(dir) > mlen) {
        char *slash = strrchr(dir, '/');
        if (slash == NULL || (size_t)(slash - dir) < mlen)
            break;
        *slash = '\0';
        jlong v = cg_read_number(dir, file);
        if (v >= 0 && (best < 0 || v < best))
            best = v;
    }
    return best;
}

static jlong memory_limit(void) {
    uint64_t phys = physical_memory();
    if (cg.version == 2) {
        jlong v = cg_lowest_limit(&cg.memory, "memory.max");
        return (v >= 0 && (uint64_t)v >= phys) ? CG_UNLIMITED : v;
    }
    if (cg.version == 1) {
        jlong v = cg_lowest_limit(&cg.memory, "memory.limit_in_bytes");
        if (v >= 0 && (uint64_t)v >= phys) {
            jlong h = cg_read_key(cg.memory.path, "memory.stat", "hierarchical_memory_limit");
            return (h >= 0 && (uint64_t)h < phys) ? h : CG_UNLIMITED;
        }
        return v;
    }
    return OSCONTAINER_ERROR;
}

int svm_container_initialize(int version) {
    if (version > SVM_CONTAINER_VERSION)
        return 2; /* this library is older than the image expects */
    if (version < SVM_CONTAINER_VERSION)
        return 3; /* this library is newer than the image expects */
    cg_discover();
    if (cg.version == 0 || cg.memory.path == NULL || cg.cpu.path == NULL)
        return 0;
    /*
     * Containerized if every controller is mounted read-only (the normal
     * container case), or if a memory or CPU limit is in force (e.g. a
     * systemd slice) -- the same two-step test HotSpot uses.
     */
    int all_ro = cg.memory.read_only && cg.cpu.read_only &&
                 (cg.cpuset.path == NULL || cg.cpuset.read_only) &&
                 (cg.cpuacct.path == NULL || cg.cpuacct.read_only);
    if (all_ro)
        return 1;
    if (memory_limit() > 0)
        return 1;
    return JVM_ActiveProcessorCount() != svm_container_active_processor_count() ? 1 : 0;
}

size_t svm_container_physical_memory(void) {
    return (size_t)physical_memory();
}

jlong svm_container_memory_limit_in_bytes(void) {
    return memory_limit();
}

jlong svm_container_memory_and_swap_limit_in_bytes(void) {
    if (cg.version == 2) {
        jlong mem = memory_limit();
        jlong swap = cg_lowest_limit(&cg.memory, "memory.swap.max");
        if (swap == OSCONTAINER_ERROR) /* swap accounting disabled: no swap */
            return mem;
        if (mem < 0 || swap < 0)
            return mem < 0 ? mem : CG_UNLIMITED;
        return mem + swap;
    }
    if (cg.version == 1) {
        jlong memsw = cg_lowest_limit(&cg.memory, "memory.memsw.limit_in_bytes");
        if (memsw == OSCONTAINER_ERROR) /* swap accounting disabled */
            return memory_limit();
        uint64_t host_total = physical_memory() + host_swap();
        if (memsw >= 0 && (uint64_t)memsw >= host_total) {
            jlong h = cg_read_key(cg.memory.path, "memory.stat", "hierarchical_memsw_limit");
            return (h >= 0 && (uint64_t)h < host_total) ? h : CG_UNLIMITED;
        }
        if (cg_read_number(cg.memory.path, "memory.swappiness") == 0)
            return memory_limit(); /* swap effectively off for this group */
        return memsw;
    }
    return OSCONTAINER_ERROR;
}

jlong svm_container_memory_soft_limit_in_bytes(void) {
    if (cg.version == 2)
        return cg_read_number(cg.memory.path, "memory.low");
    if (cg.version == 1) {
        jlong v = cg_read_number(cg.memory.path, "memory.soft_limit_in_bytes");
        return (v >= 0 && (uint64_t)v >= physical_memory()) ? CG_UNLIMITED : v;
    }
    return OSCONTAINER_ERROR;
}

jlong svm_container_memory_usage_in_bytes(void) {
    return cg_read_number(cg.memory.path, cg.version == 2 ? "memory.current" : "memory.usage_in_bytes");
}

jlong svm_container_memory_max_usage_in_bytes(void) {
    return cg_read_number(cg.memory.path, cg.version == 2 ? "memory.peak" : "memory.max_usage_in_bytes");
}

jlong svm_container_rss_usage_in_bytes(void) {
    return cg_read_key(cg.memory.path, "memory.stat", cg.version == 2 ? "anon" : "rss");
}

jlong svm_container_cache_usage_in_bytes(void) {
    return cg_read_key(cg.memory.path, "memory.stat", cg.version == 2 ? "file" : "cache");
}

/* CPU quota / period of our group (smallest ratio up the tree), or 0 if unlimited. */
static int cpu_quota_count(void) {
    if (cg.cpu.path == NULL)
        return 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", cg.cpu.path);
    size_t mlen = strlen(cg.cpu.mount);
    int best = 0;
    for (;;) {
        jlong quota = -1, period = -1;
        if (cg.version == 2) {
            char path[PATH_MAX + 16], buf[128], q[32];
            long long p;
            snprintf(path, sizeof path, "%s/cpu.max", dir);
            if (read_file_line(path, buf, sizeof buf) != NULL && sscanf(buf, "%31s %lld", q, &p) == 2) {
                quota = strcmp(q, "max") == 0 ? -1 : strtoll(q, NULL, 10);
                period = p;
            }
        } else {
            quota = cg_read_number(dir, "cpu.cfs_quota_us");
            period = cg_read_number(dir, "cpu.cfs_period_us");
        }
        if (quota > 0 && period > 0) {
            int count = (int)((quota + period - 1) / period); /* ceil, as HotSpot */
            if (best == 0 || count < best)
                best = count;
        }
        char *slash = strrchr(dir, '/');
        if (strlen(dir) <= mlen || slash == NULL || (size_t)(slash - dir) < mlen)
            break;
        *slash = '\0';
    }
    return best;
}

int svm_container_active_processor_count(void) {
    /* sched_getaffinity already reflects the cpuset; the CFS quota can only lower it. */
    int cpus = JVM_ActiveProcessorCount();
    int quota = cpu_quota_count();
    return (quota > 0 && quota < cpus) ? quota : cpus;
}

/* ------------------------------------------------------------------------ */
/* Built-in JNI libraries: forward to the Temurin shared libraries           */
/* ------------------------------------------------------------------------ */

typedef jint(JNICALL *jni_onload_fn)(JavaVM *, void *);

/*
 * Runs the JNI_OnLoad defined by the already-loaded library soname, if it
 * defines one. All four JDK libraries export the plain name JNI_OnLoad and a
 * dlsym() on a handle also searches the library's dependencies, so the
 * symbol found is accepted only if it really lives in that library (libzip
 * has none, and would otherwise run libjava's).
 *
 * Native Image requires at least JNI_VERSION_1_8 from a built-in library,
 * while Temurin's libraries answer JNI_VERSION_1_2, so any success is
 * reported as 1.8; errors (negative values) are passed through.
 */
jint isola_forward_onload(const char *soname, JavaVM *vm, void *reserved) {
    void *handle = dlopen(soname, RTLD_NOLOAD | RTLD_NOW);
    if (handle == NULL) {
        fprintf(stderr, "isola native: %s is not loaded: %s\n", soname, dlerror());
        return JNI_ERR;
    }
    jint result = JNI_VERSION_1_8;
    void *sym = dlsym(handle, "JNI_OnLoad");
    struct link_map *own = NULL, *owner = NULL;
    Dl_info info;
    if (sym != NULL && dlinfo(handle, RTLD_DI_LINKMAP, &own) == 0 &&
        dladdr1(sym, &info, (void **)&owner, RTLD_DL_LINKMAP) != 0 && owner == own) {
        jint r = ((jni_onload_fn)sym)(vm, reserved);
        if (r < 0)
            result = r;
    }
    dlclose(handle); /* only drops the reference taken above; the library stays (DT_NEEDED) */
    return result;
}

/* The JNI_OnLoad_<lib> functions themselves are generated at link time, one for each JDK
   library the image treats as built in (isola.nativeimage.build.Linker). */
