/**
 * Prints the closing line CI reads, `N passed, N failed`, after jest's own summary.
 * A suite that fails to run (syntax error, failing hook) counts its tests as failed,
 * and counts as one failure if it had none to count.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    let failed = results.numFailedTests;
    for (const suite of results.testResults) {
      if (suite.testExecError && suite.numFailingTests === 0) failed += Math.max(1, suite.testResults.length);
    }
    const skipped = results.numPendingTests > 0 ? `, ${results.numPendingTests} skipped` : '';
    process.stdout.write(`\n${results.numPassedTests} passed, ${failed} failed${skipped}\n`);
  }
}
module.exports = SummaryReporter;
