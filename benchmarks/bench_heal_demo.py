"""Time to heal each demo proposal: deploy + test, then the auto-fix loop, with no API key.

.venv/bin/python benchmarks/bench_heal_demo.py   (DATABASE_URL must point at PostgreSQL)
"""

import statistics
import time

from _django import benchmark_database


def main() -> None:
    with benchmark_database("selfheal_bench_heal"):
        from django.core.management import call_command

        from proposals import autofix, services
        from proposals.models import Proposal

        call_command("load_demo", "--no-tests", verbosity=0)
        print("Time to heal the demo proposals (sandboxed test runs, no LLM):")
        print(f"  {'proposal':44} {'status':14} {'attempts':>8} {'strategy':>18} {'seconds':>8}")
        heal_times = []
        for proposal in Proposal.objects.order_by("pk"):
            started = time.perf_counter()
            services.deploy_and_test(proposal.pk)
            result = autofix.run_auto_fix(proposal.pk)
            seconds = time.perf_counter() - started
            strategies = "+".join(
                a.strategy
                for a in proposal.attempts.order_by("number")
                if a.outcome in ("passed", "improved")
            )
            if result.success:
                heal_times.append(seconds)
            print(f"  {proposal.title[:44]:44} {result.status:14} {result.attempts:>8} "
                  f"{strategies or '-':>18} {seconds:8.2f}")  # fmt: skip
        if heal_times:
            print(f"  healed {len(heal_times)} of {Proposal.objects.count()}; "
                  f"median time to heal {statistics.median(heal_times):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
