from coderun.cli import main

main()
