#include <hotstate/hotstate.hpp>

#include <iostream>

int main() {
  hotstate::Options options;
  options.path = ":memory:";
  hotstate::StateManager manager(options);
  manager.save_snapshot(hotstate::StateSnapshot("host-plugin", "1.0.0").with_data("ready", true));
  auto loaded = manager.load_snapshot("host-plugin");
  if (!loaded || loaded->get<bool>("ready") != true) return 1;
  std::cout << "host linked hotstate::hotstate through add_subdirectory\n";
  return 0;
}
