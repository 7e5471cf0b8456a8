import { type FeatureSpec, featureSteps, simBlock } from './sample-project';

/**
 * What `gt demo` builds: twelve small features of the sample library, with real dependencies (a feature's
 * code requires the modules it depends on, so landing it first would break the tests), and two scripted
 * faults — one feature breaks the test suite on its first attempt and fixes it on rework, one worker
 * hangs on its first session and is recovered by the Witness. Pure data: the runner creates the beads.
 */
export type DemoFault = 'breaks-tests-once' | 'hangs-once';

export interface DemoBead {
  key: string;
  title: string;
  feature: FeatureSpec;
  dependsOn: readonly string[];
  fault?: DemoFault;
  priority: number;
}

const FEATURES: ReadonlyArray<Omit<DemoBead, 'title' | 'priority'> & { priority?: number }> = [
  {
    key: 'upper',
    dependsOn: [],
    feature: { name: 'upper', body: 'String(s).toUpperCase()', cases: [['abc', 'ABC']] },
  },
  {
    key: 'lower',
    dependsOn: [],
    feature: { name: 'lower', body: 'String(s).toLowerCase()', cases: [['AbC', 'abc']] },
  },
  {
    key: 'reverse',
    dependsOn: [],
    feature: { name: 'reverse', body: "[...String(s)].reverse().join('')", cases: [['abc', 'cba']] },
  },
  {
    key: 'squish',
    dependsOn: [],
    feature: { name: 'squish', body: "String(s).replace(/\\s+/g, ' ').trim()", cases: [['  a   b ', 'a b']] },
  },
  {
    key: 'capitalize',
    dependsOn: ['upper', 'lower'],
    feature: {
      name: 'capitalize',
      requires: ['upper', 'lower'],
      body: 'upper(String(s).slice(0, 1)) + lower(String(s).slice(1))',
      cases: [['hELLO', 'Hello']],
    },
  },
  {
    key: 'is-palindrome',
    dependsOn: ['reverse', 'lower'],
    feature: {
      name: 'is-palindrome',
      requires: ['reverse', 'lower'],
      body: 'String(lower(s) === reverse(lower(s)))',
      cases: [
        ['Level', 'true'],
        ['gas', 'false'],
      ],
    },
  },
  {
    key: 'kebab',
    dependsOn: ['lower', 'squish'],
    feature: {
      name: 'kebab',
      requires: ['lower', 'squish'],
      body: "lower(squish(s)).replace(/ /g, '-')",
      cases: [[' Gas  Town ', 'gas-town']],
    },
  },
  {
    key: 'count-words',
    dependsOn: ['squish'],
    fault: 'hangs-once',
    feature: {
      name: 'count-words',
      requires: ['squish'],
      body: "String(squish(s) === '' ? 0 : squish(s).split(' ').length)",
      cases: [['  one two  three ', '3']],
    },
  },
  {
    key: 'title-case',
    dependsOn: ['capitalize', 'squish'],
    feature: {
      name: 'title-case',
      requires: ['capitalize', 'squish'],
      body: "squish(s).split(' ').map(capitalize).join(' ')",
      cases: [['the  road WARRIOR', 'The Road Warrior']],
    },
  },
  {
    key: 'snake',
    dependsOn: ['kebab'],
    feature: {
      name: 'snake',
      requires: ['kebab'],
      body: "kebab(s).replace(/-/g, '_')",
      cases: [['Fury Road', 'fury_road']],
    },
  },
  {
    key: 'slugify',
    dependsOn: ['kebab'],
    feature: {
      name: 'slugify',
      requires: ['kebab'],
      body: "kebab(s).replace(/[^a-z0-9-]/g, '')",
      cases: [["Witness' Log #1", 'witness-log-1']],
    },
  },
  {
    key: 'initials',
    dependsOn: ['title-case'],
    fault: 'breaks-tests-once',
    feature: {
      name: 'initials',
      requires: ['title-case'],
      body: "titleCase(s).split(' ').map((w) => w.slice(0, 1)).join('')",
      cases: [['imperator furiosa', 'IF']],
    },
  },
];

export const DEMO_BROKEN_TEST = 'test/sim-broken.test.mjs';

export function demoPlan(): DemoBead[] {
  return FEATURES.map((f) => ({
    ...f,
    title: `Add ${f.feature.name}()`,
    priority: f.priority ?? (f.dependsOn.length === 0 ? 1 : 2),
  }));
}

/** The bead description: what to build, and the sim agent's script for it. */
export function demoDescription(bead: DemoBead): string {
  const steps = [...featureSteps(bead.feature, `${bead.title}`)];
  if (bead.fault === 'hangs-once') {
    // The first session hangs (no output, no progress); after the Witness restarts it, the work proceeds.
    steps.unshift('first hang');
  }
  if (bead.fault === 'breaks-tests-once') {
    // First attempt: also commit a failing test (the Sheriff's syntax check passes; the gate fails).
    // On rework (after the Refinery rejected it): remove the failing test and submit again.
    steps.splice(steps.length - 1, 0, `first break-tests ${DEMO_BROKEN_TEST}`);
    steps.push(`rework delete ${DEMO_BROKEN_TEST}`, 'rework commit "Remove the failing test"');
  }
  steps.push('usage input=1200 output=300', 'done');
  const prose = `Implement src/${bead.feature.name}.js with tests in test/${bead.feature.name}.test.js.`;
  return simBlock(steps, prose);
}
