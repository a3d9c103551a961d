import { execFileSync } from 'node:child_process';

/** Child-process tests run the built package, as users do: build it once per test run. */
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
