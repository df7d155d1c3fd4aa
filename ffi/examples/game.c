/* A game's use of actorc through its C ABI: load the example game's rules, evaluate a
 * character, equip a sword, and print the stats that changed. Run from the repository's
 * root (it reads rules/rpg). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "actorc.h"

/* Prints the last error and leaves, when a call did not succeed. */
static void check(ActorcStatus status, const char *what) {
    if (status != ACTORC_STATUS_OK) {
        fprintf(stderr, "%s failed (%d): %s\n", what, (int)status, actorc_last_error());
        exit(1);
    }
}

/* A value, or "none" for a stat the actor has no value of (NaN). */
static void print_value(double v) {
    if (isnan(v)) {
        printf("none");
    } else {
        printf("%g", v);
    }
}

/* The character: its race and level, and optionally its sword. */
static const char *HERO =
    "{\"id\":\"hero\",\"subsystems\":["
    "{\"primary\":["
    "{\"dimension\":\"strength\",\"bucket\":\"FLAT\",\"value\":16,\"system\":\"race\"},"
    "{\"dimension\":\"vitality\",\"bucket\":\"FLAT\",\"value\":14,\"system\":\"race\"},"
    "{\"dimension\":\"level\",\"bucket\":\"FLAT\",\"value\":11,\"system\":\"progression\"}],"
    "\"derived\":[],\"caps\":[],\"meta\":{\"system\":\"race\"}}";

static const char *SWORD =
    ",{\"primary\":["
    "{\"dimension\":\"strength\",\"bucket\":\"FLAT\",\"value\":8,\"system\":\"sword\"}],"
    "\"derived\":["
    "{\"dimension\":\"attack_power\",\"bucket\":\"FLAT\",\"value\":40,\"system\":\"sword\"}],"
    "\"caps\":[],\"meta\":{\"system\":\"sword\"}}";

int main(void) {
    ActorcRules *rules = NULL;
    check(actorc_rules_load("rules/rpg", &rules), "loading rules/rpg");
    ActorcEngine *engine = NULL;
    check(actorc_engine_new(rules, ACTORC_BACKEND_JIT, &engine), "compiling the rules");
    size_t stats = 0;
    check(actorc_rules_stat_count(rules, &stats), "counting the stats");

    char unarmed[1024], armed[1024];
    snprintf(unarmed, sizeof unarmed, "%s]}", HERO);
    snprintf(armed, sizeof armed, "%s%s]}", HERO, SWORD);
    double *before = malloc(stats * sizeof *before);
    double *after = malloc(stats * sizeof *after);
    check(actorc_evaluate_values(engine, unarmed, before, stats), "evaluating the hero");
    check(actorc_evaluate_values(engine, armed, after, stats), "evaluating the hero with a sword");

    uint32_t max_health = 0;
    check(actorc_rules_stat_id(rules, "max_health", &max_health), "finding max_health");
    printf("%zu stats; the hero has %g max_health\n", stats, before[max_health]);
    printf("equipping the sword changes:\n");
    for (uint32_t id = 0; id < stats; id++) {
        int both_absent = isnan(before[id]) && isnan(after[id]);
        if (!both_absent && before[id] != after[id]) {
            const char *name = NULL;
            check(actorc_rules_stat_name(rules, id, &name), "naming a stat");
            printf("  %s ", name);
            print_value(before[id]);
            printf(" -> ");
            print_value(after[id]);
            printf(" (sword)\n");
        }
    }

    /* A mistake is an error code and a message, never a crash. */
    uint32_t unused = 0;
    if (actorc_rules_stat_id(rules, "max_helth", &unused) == ACTORC_STATUS_UNKNOWN_NAME) {
        printf("max_helth: %s\n", actorc_last_error());
    }

    free(before);
    free(after);
    actorc_engine_free(engine);
    actorc_rules_free(rules);
    return 0;
}
