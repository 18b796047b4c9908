// A child process for crash tests (see crash_test.cpp).
int main() { return 0; }
