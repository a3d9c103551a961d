import { execFileSync } from 'node:child_process';

/**
 * Child-process tests run the built package, as users do: build it once per test run. The benchmark's smoke test
 * runs its built processes too.
 */
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  execFileSync('npx', ['tsc', '-p', 'tsconfig.tools.json'], { stdio: 'inherit' });
}
