from coderun.cli import main

if __name__ == "__main__":  # vLLM's engine may spawn workers that re-import this module
    main()
