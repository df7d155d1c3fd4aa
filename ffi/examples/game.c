/* A game's use of actorc through its C ABI: load the example game's rules, build a live
 * character from modifier sources, equip and unequip a sword, print the stats that change,
 * and save and load the character. Run from the repository's root (it reads rules/rpg). */
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

/* Evaluates `hero` and prints each change with the source that caused it. */
static void evaluate(ActorcRules *rules, ActorcLive *hero, const char *what) {
    size_t changes = 0;
    check(actorc_live_evaluate(hero, &changes), "evaluating the hero");
    printf("%s: %zu stats changed\n", what, changes);
    for (size_t i = 0; i < changes; i++) {
        ActorcChange c;
        const char *stat = NULL;
        const char *source = "several sources";
        check(actorc_live_change(hero, i, &c), "reading a change");
        check(actorc_rules_stat_name(rules, c.stat, &stat), "naming a stat");
        if (c.cause >= 0) {
            check(actorc_live_source_name(hero, (uint32_t)c.cause, &source), "naming a source");
        }
        printf("  %s ", stat);
        print_value(c.old_value);
        printf(" -> ");
        print_value(c.new_value);
        printf(" (%s)\n", source);
    }
}

int main(void) {
    ActorcRules *rules = NULL;
    check(actorc_rules_load("rules/rpg", &rules), "loading rules/rpg");
    ActorcEngine *engine = NULL;
    check(actorc_engine_new(rules, ACTORC_BACKEND_JIT, &engine), "compiling the rules");

    /* Names become handles once; nothing below looks up a string. */
    uint32_t strength, vitality, level, attack_power, max_health, flat;
    check(actorc_engine_stat(engine, "strength", &strength), "strength");
    check(actorc_engine_stat(engine, "vitality", &vitality), "vitality");
    check(actorc_engine_stat(engine, "level", &level), "level");
    check(actorc_engine_stat(engine, "attack_power", &attack_power), "attack_power");
    check(actorc_engine_stat(engine, "max_health", &max_health), "max_health");
    check(actorc_engine_bucket(engine, "FLAT", &flat), "FLAT");

    ActorcLive *hero = NULL;
    check(actorc_live_new(engine, &hero), "making the hero");
    uint32_t race, sword;
    check(actorc_live_source(hero, "race", &race), "the race source");
    check(actorc_live_source(hero, "sword", &sword), "the sword source");
    ActorcModifier race_gives[] = {
        {strength, flat, 16, 0},
        {vitality, flat, 14, 0},
        {level, flat, 10, 0},
    };
    check(actorc_live_set_source(hero, race, race_gives, 3), "setting the race");
    size_t changes = 0;
    check(actorc_live_evaluate(hero, &changes), "the first evaluation");
    double health = 0;
    check(actorc_live_value(hero, max_health, &health), "reading max_health");
    printf("the hero has %g max_health\n", health);

    ActorcModifier sword_gives[] = {
        {strength, flat, 8, 0},
        {attack_power, flat, 40, 0},
    };
    check(actorc_live_set_source(hero, sword, sword_gives, 2), "equipping the sword");
    evaluate(rules, hero, "equip the sword");
    check(actorc_live_set_source(hero, sword, NULL, 0), "unequipping the sword");
    evaluate(rules, hero, "unequip the sword");

    /* A save game holds inputs; loading it gives the same values, bit for bit. */
    char *save = NULL;
    check(actorc_live_to_json(hero, &save), "saving the hero");
    ActorcLive *loaded = NULL;
    check(actorc_live_from_json(engine, save, &loaded), "loading the save");
    check(actorc_live_evaluate(loaded, &changes), "evaluating the loaded hero");
    double loaded_health = 0;
    check(actorc_live_value(loaded, max_health, &loaded_health), "reading max_health");
    printf("saved and loaded: max_health %g (%s)\n", loaded_health, loaded_health == health ? "same" : "DIFFERENT");
    actorc_string_free(save);

    /* A mistake is an error code and a message, never a crash. */
    uint32_t unused = 0;
    if (actorc_engine_stat(engine, "max_helth", &unused) == ACTORC_STATUS_UNKNOWN_NAME) {
        printf("max_helth: %s\n", actorc_last_error());
    }

    actorc_live_free(loaded);
    actorc_live_free(hero);
    actorc_engine_free(engine);
    actorc_rules_free(rules);
    return 0;
}
