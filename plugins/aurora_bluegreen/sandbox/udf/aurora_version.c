/*
 * aurora_version(): Aurora MySQL's built-in function, as a loadable function (UDF) for the sandbox.
 *
 * On Aurora, SELECT aurora_version() answers from any database, or none, with the cluster's
 * Aurora version ("3.08.0"). A stored function would answer only inside its own schema, so the
 * sandbox loads this instead (aurora_bluegreen/sandbox/aurora_function.py builds and registers it).
 * It returns what the server was started with in AURORA_BLUEGREEN_AURORA_VERSION, so a restart
 * under another version answers with that one.
 *
 * No MySQL or MariaDB header is needed: the loadable-function interface is plain C, and only the
 * leading fields of its two structures are used; both servers lay them out alike.
 */
#include <stdlib.h>
#include <string.h>

#define VERSION_VARIABLE "AURORA_BLUEGREEN_AURORA_VERSION"

typedef struct {
    char maybe_null;
    unsigned int decimals;
    unsigned long max_length;
    char *ptr;
    char const_item;
    void *extension;
} UDF_INIT;

typedef struct {
    unsigned int arg_count;
} UDF_ARGS;

char aurora_version_init(UDF_INIT *initid, UDF_ARGS *args, char *message)
{
    const char *version = getenv(VERSION_VARIABLE);
    if (args->arg_count != 0) {
        strcpy(message, "aurora_version() takes no arguments");
        return 1;
    }
    if (version == NULL) {
        strcpy(message, "this server was started without " VERSION_VARIABLE);
        return 1;
    }
    initid->maybe_null = 0;
    initid->const_item = 1;
    initid->max_length = strlen(version);
    return 0;
}

char *aurora_version(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                     char *is_null, char *error)
{
    const char *version = getenv(VERSION_VARIABLE);
    (void)initid;
    (void)args;
    (void)result;
    (void)is_null;
    (void)error;
    *length = strlen(version);
    return (char *)version;
}
